"""Soak: SOAK_CLIENTS concurrent clients for SOAK_SECONDS over a mixed workload against gunicorn.

``python -m tests.hardening.soak`` (``make soak``) makes its own database on the Postgres of
DATABASE_URL (or 127.0.0.1:5432), migrates it, uses Redis DB /10 for the cache, and at the end
checks: no 5xx, every sign-up answered 201 exists, worker memory flat after warm-up.
tests/hardening/test_soak.py runs the same driver for ~20 s against the test database, and
tests/hardening/test_cluster.py runs its clients in the background (``Load``) against HAProxy.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

PASSWORD = "soak passphrase that is long 42"
REDIRECT_URI = "https://rp.example.com/callback"
RSS_GROWTH_LIMIT_MIB = 30


@dataclass
class Outcome:
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    signed_up: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    requests: int = 0

    @property
    def failures(self) -> int:
        """Requests that got no answer from the application: a 5xx, or no response at all."""
        return len(self.server_errors) + len(self.transport_errors)

    def record(self, name: str, response: httpx.Response) -> httpx.Response:
        self.requests += 1
        self.statuses[(name, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{name} {response.status_code} {response.text[:200]}")
        return response


@dataclass
class Fixture:
    """What the workload needs: an OAuth client, and an admin that may read users."""

    client_id: str
    client_secret: str
    admin_login: str


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def sign_up_and_login(http: httpx.AsyncClient, out: Outcome, tag: str) -> dict | None:
    name = f"soak{tag}{secrets.token_hex(4)}"
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    response = out.record("signup", await http.post("/api/v1/auth/signup/", json=body))
    if response.status_code == 201:
        out.signed_up.append(name)
    login = {"login": name, "password": PASSWORD}
    response = out.record("login", await http.post("/api/v1/auth/login/", json=login))
    return response.json() if response.status_code == 200 else None


async def api_round(http: httpx.AsyncClient, out: Outcome, tokens: dict) -> dict:
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    out.record("me", await http.get("/api/v1/me/", headers=auth))
    out.record("sessions", await http.get("/api/v1/me/sessions/", headers=auth))
    out.record("history", await http.get("/api/v1/me/login-history/", headers=auth))
    body = {"refresh_token": tokens["refresh_token"]}
    response = out.record("refresh", await http.post("/api/v1/auth/refresh/", json=body))
    return response.json() if response.status_code == 200 else tokens


async def permission_round(http: httpx.AsyncClient, out: Outcome, fixture: Fixture) -> None:
    login = {"login": fixture.admin_login, "password": PASSWORD}
    response = out.record("admin-login", await http.post("/api/v1/auth/login/", json=login))
    if response.status_code != 200:
        return
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    out.record("users", await http.get("/api/v1/users/", headers=auth))
    out.record("roles", await http.get("/api/v1/roles/", headers=auth))


async def oauth_round(http: httpx.AsyncClient, out: Outcome, fixture: Fixture, user: str) -> None:
    """The code flow through the pages: sign in, authorize (first party: no consent), exchange."""
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=http.timeout) as browser:
        page = out.record("login-page", await browser.get("/accounts/login/"))
        form = {
            "csrfmiddlewaretoken": browser.cookies.get("csrftoken", ""),
            "username": user,
            "password": PASSWORD,
        }
        headers = {"Referer": str(page.url)}
        out.record("login-form", await browser.post("/accounts/login/", data=form, headers=headers))
        verifier, challenge = pkce()
        params = {
            "response_type": "code",
            "client_id": fixture.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        response = out.record("authorize", await browser.get("/o/authorize/", params=params))
        location = response.headers.get("location", "")
        code = parse_qs(urlsplit(location).query).get("code", [None])[0]
        if code is None:
            return
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        auth = (fixture.client_id, fixture.client_secret)
        out.record("token", await browser.post("/o/token/", data=data, auth=auth))


async def client_round(
    http: httpx.AsyncClient, out: Outcome, fixture: Fixture, tag: str, round_: int
) -> None:
    tokens = await sign_up_and_login(http, out, tag)
    if tokens is not None:
        tokens = await api_round(http, out, tokens)
        await api_round(http, out, tokens)
    if round_ % 3 == 0:
        await permission_round(http, out, fixture)
    if round_ % 2 == 0 and out.signed_up:
        await oauth_round(http, out, fixture, out.signed_up[-1])


async def client_loop(
    index: int, base: str, fixture: Fixture, done: Callable[[], bool], out: Outcome
) -> None:
    """Rounds of the workload until ``done()``; a request that gets no response at all (the
    server vanished mid-request) is counted and ends the round, not the client."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        round_ = 0
        while not done():
            round_ += 1
            try:
                await client_round(http, out, fixture, f"{index}x{round_}x", round_)
            except httpx.TransportError as error:
                out.requests += 1
                out.transport_errors.append(f"{type(error).__name__}: {error}")


def rss_mib(pids: list[int]) -> float:
    """Resident memory of the gunicorn workers (children of the given masters), in MiB."""
    total = 0
    for pid in pids:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        for child in children.read_text().split() if children.exists() else []:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


async def sample_rss(pids: list[int], out: Outcome, deadline: float, every: float) -> None:
    while time.monotonic() < deadline:
        out.rss_mib.append(rss_mib(pids))
        await asyncio.sleep(every)
    out.rss_mib.append(rss_mib(pids))


async def drive(
    bases: list[str], pids: list[int], fixture: Fixture, *, seconds: float, clients: int
) -> Outcome:
    out = Outcome()
    deadline = time.monotonic() + seconds
    every = max(1.0, seconds / 20)
    await asyncio.gather(
        sample_rss(pids, out, deadline, every),
        *(
            client_loop(i, bases[i % len(bases)], fixture, lambda: time.monotonic() > deadline, out)
            for i in range(clients)
        ),
    )
    return out


class Load:
    """The soak's clients in a background thread until ``stop()``, while the caller acts (kills
    a node, restarts them one by one); ``out`` fills as they go."""

    def __init__(self, base: str, fixture: Fixture, *, clients: int) -> None:
        self.out = Outcome()
        self._stop = threading.Event()
        loops = [client_loop(i, base, fixture, self._stop.is_set, self.out) for i in range(clients)]
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._gather(loops)), name="soak-load", daemon=True
        )
        self._thread.start()

    @staticmethod
    async def _gather(loops: list[Any]) -> None:
        await asyncio.gather(*loops)

    def stop(self, timeout: float = 60) -> Outcome:
        """Lets each client finish its round, and returns what they saw."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the load did not stop within {timeout:.0f}s")
        return self.out


def missing_sign_ups(database_url: str, usernames: list[str]) -> list[str]:
    with psycopg.connect(database_url) as conn:
        found = {
            row[0]
            for row in conn.execute(
                "SELECT username FROM accounts_user WHERE username = ANY(%s)", [usernames]
            )
        }
    return sorted(set(usernames) - found)


def verdict(out: Outcome, database_url: str) -> list[str]:
    """Every broken promise, as a line; empty when the soak passed."""
    problems = [f"5xx: {line}" for line in out.server_errors[:20]]
    problems += [f"no response: {line}" for line in out.transport_errors[:20]]
    problems += [f"lost sign-up: {name}" for name in missing_sign_ups(database_url, out.signed_up)]
    if len(out.rss_mib) >= 4:
        warm = out.rss_mib[len(out.rss_mib) // 4]  # after warm-up: imports, caches, pools
        growth = out.rss_mib[-1] - warm
        if growth > RSS_GROWTH_LIMIT_MIB:
            problems.append(f"worker memory grew {growth:.0f} MiB after warm-up: {out.rss_mib}")
    return problems


def summary(out: Outcome, seconds: float) -> str:
    by_status = Counter()
    for (_, status), count in out.statuses.items():
        by_status[status] += count
    rss = " ".join(f"{value:.0f}" for value in out.rss_mib)
    return (
        f"soak: {out.requests} requests in {seconds:.0f}s ({out.requests / seconds:.0f}/s), "
        f"statuses {dict(sorted(by_status.items()))}, {len(out.signed_up)} sign-ups, "
        f"worker RSS MiB [{rss}]"
    )


def seed(database_url: str, env: dict[str, str], *, staff: bool = True) -> Fixture:
    """A first-party confidential app and an admin, made through the services.

    ``staff=False`` makes the admin an API-only superuser: production demands a second factor
    of staff (MFA_REQUIRED_FOR_STAFF), which the workload's password sign-in does not give."""
    script = (
        "from accounts.services import user_create\n"
        "from sso import services\n"
        "import secrets\n"
        "tag = secrets.token_hex(3)\n"
        "admin = user_create(username=f'soakadmin{tag}', email=f'soakadmin{tag}@example.com',"
        f" password={PASSWORD!r}, email_verified=True, is_staff={staff!r})\n"
        "admin.is_superuser = True; admin.must_change_password = False; admin.save()\n"
        "app, secret = services.application_create(owner=admin, name=f'Soak {tag}',"
        f" client_type='confidential', redirect_uris={REDIRECT_URI!r},"
        " allowed_scopes='openid profile read')\n"
        "app.is_first_party = True; app.save()\n"
        "print(app.client_id, secret, admin.username)\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        env={**os.environ, **env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    client_id, secret, admin = result.stdout.split()[-3:]
    return Fixture(client_id=client_id, client_secret=secret, admin_login=admin)


def server_env(database_url: str, cache_url: str) -> dict[str, str]:
    unthrottled = {
        f"API_THROTTLE_{scope}": "1000000/min"
        for scope in ("SIGNUP", "SIGNUP_IDENTIFIER", "LOGIN", "LOGIN_IDENTIFIER", "REFRESH")
    }
    return {
        **unthrottled,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "ACCOUNT_EMAIL_VERIFICATION": "optional",
        "NEW_DEVICE_ALERTS": "false",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(
    env: dict[str, str], log: Path, workers: int = 2
) -> tuple[subprocess.Popen, str]:
    from tests.run import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:identity.gunicorn_conf",
         "identity.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "60"],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")


def _run_in_own_thread(coroutine: Any) -> Any:
    """asyncio.run in a fresh thread: the caller's thread may already run an event loop
    (Playwright's sync API keeps one in pytest's main thread for the whole session)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=target, name="soak-driver")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def run(database_url: str, cache_url: str, *, seconds: float, clients: int, tmp: Path) -> int:
    """Seeds, serves, drives, judges; prints the summary; 0 when the soak passed."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    env = server_env(database_url, cache_url)
    subprocess.run(
        [sys.executable, "manage.py", "ensure_signing_key"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    fixture = seed(database_url, env)
    process, base = start_gunicorn(env, tmp / "gunicorn.log")
    try:
        out = _run_in_own_thread(
            drive([base], [process.pid], fixture, seconds=seconds, clients=clients)
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(summary(out, seconds), flush=True)
    problems = verdict(out, database_url)
    for line in problems:
        print(f"FAIL {line}", flush=True)
    return 1 if problems else 0


def main() -> int:
    import redis

    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    clients = int(os.environ.get("SOAK_CLIENTS", "50"))
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    admin_url = server.rsplit("/", 1)[0] + "/postgres"
    name = f"identity_soak_{os.getpid()}"
    cache_url = os.environ.get("SOAK_CACHE_URL", "redis://127.0.0.1:6379/10")
    redis.Redis.from_url(cache_url).flushdb()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate_env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": database_url}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            env=migrate_env,
            check=True,
            capture_output=True,
        )
        with tempfile.TemporaryDirectory(prefix="identity-soak-") as tmp:
            return run(database_url, cache_url, seconds=seconds, clients=clients, tmp=Path(tmp))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
