"""Running the portal as real server processes for tests that cross process boundaries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip() -> str:
    """The Redis URL for shared-cache tests; skipped locally without Redis, failed in CI."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


def database_url() -> str:
    """The URL of the database this test runs against (pytest-django's test database)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        pytest.skip("needs Postgres: several processes share the database")
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host, port = s["HOST"] or "127.0.0.1", s["PORT"] or 5432
    return f"postgres://{s['USER']}{password}@{host}:{port}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, *, timeout: float = 30
) -> None:
    """Waits until the server answers /healthz; raises with its log if it exits or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start: {log.read_text()[-3000:]}")


def gunicorn_command(port: int, *options: str) -> list[str]:
    """The portal as production starts it (gunicorn with identity.gunicorn_conf) on a
    loopback port, with further gunicorn ``options``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:identity.gunicorn_conf",
        "identity.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        *options,
    ]


@contextmanager
def portal_processes(count: int, *, env: dict[str, str], tmp: Path) -> Iterator[list[str]]:
    """Starts ``count`` gunicorn processes of the portal; yields their base URLs."""
    processes, urls = [], []
    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DJANGO_ENV": "test"}
    try:
        for index in range(count):
            port = _free_port()
            log = tmp / f"server-{index}.log"
            process = subprocess.Popen(
                gunicorn_command(port, "-w", "1", "--access-logfile", "-"),
                env={**base_env, **env},
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            wait_ready(urls[-1], process, log)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def live_api_login(portal: httpx.Client | str, login: str, password: str) -> httpx.Response:
    """A sign-in through the login API of a portal running as a server process (``portal`` is an
    httpx client on it, or its base URL); the raw answer, since fault tests read its status."""
    path, body = "/api/v1/auth/login/", {"login": login, "password": password}
    if isinstance(portal, str):
        return httpx.post(f"{portal}{path}", json=body)
    return portal.post(path, json=body)


def live_api_tokens(portal: httpx.Client | str, login: str, password: str) -> dict[str, Any]:
    """``live_api_login`` asserted to succeed: its token response."""
    response = live_api_login(portal, login, password)
    assert response.status_code == 200, response.text
    return response.json()
