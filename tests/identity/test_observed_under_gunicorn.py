"""The portal under gunicorn as production runs it: /metrics adds up every worker
(prometheus-client's multiprocess mode, set up by identity/gunicorn_conf.py) and LOG_FORMAT=json
writes one parsable line per request, with the request id the response echoed and no secret."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import OneTimeToken
from accounts.services.secrets import secret_issue
from identity.keys import ensure_signing_key
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import database_url, gunicorn_command, live_api_tokens, wait_ready
from tests.run import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def gunicorn_portal(tmp: Path, *, workers: int, **env: str) -> Iterator[tuple[str, Path]]:
    """gunicorn with identity.gunicorn_conf and ``workers`` workers; (base URL, its output)."""
    ensure_signing_key()  # in the database the server reads
    port, log = free_port(), tmp / "server.log"
    environment = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
        # An existing directory, as collectstatic leaves in production: whitenoise would
        # print a (plain) warning about a missing one.
        "STATIC_ROOT": str(tmp),
        **env,
    }
    command = gunicorn_command(port, "-w", str(workers), "--access-logfile", "-")
    process = subprocess.Popen(
        command, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=15)


def readyz_count(base: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "identity_http_requests_total" and sample.labels == {
                "route": "/readyz",
                "method": "GET",
                "status": "2xx",
            }:
                return sample.value
    return 0.0


def json_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_metrics_add_up_every_gunicorn_worker(tmp_path: Path) -> None:
    with gunicorn_portal(tmp_path, workers=2, LOG_FORMAT="json") as (base, log):
        # /readyz: wait_ready polls /healthz, and a poll it gave up on may still be answered.
        before = readyz_count(base)
        sent, pids = 0, set()
        with ThreadPoolExecutor(max_workers=6) as pool:
            # Until both workers have answered (bounded): a new connection per request, several
            # at once, so that the second worker takes some while the first is busy.
            while len(pids) < 2 and sent < 600:
                answers = list(pool.map(lambda _: httpx.get(f"{base}/readyz"), range(30)))
                assert all(a.status_code == 200 for a in answers)
                sent += len(answers)
                lines = json_lines(log)
                pids = {line["process"] for line in lines if line.get("route") == "/readyz"}
        assert len(pids) == 2, "one worker answered every request"
        # Whichever worker answers the scrape, it reports the sum of both.
        assert readyz_count(base) - before == sent
        assert readyz_count(base) - before == sent


def test_a_given_metrics_directory_is_cleared_of_a_previous_run(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    with gunicorn_portal(tmp_path, workers=1, PROMETHEUS_MULTIPROC_DIR=str(directory)) as (
        base,
        _,
    ):
        httpx.get(f"{base}/readyz")
        first = readyz_count(base)
    assert first == 1
    assert list(directory.glob("*.db"))  # the stopped run's values stay until the next start
    with gunicorn_portal(tmp_path, workers=1, PROMETHEUS_MULTIPROC_DIR=str(directory)) as (
        base,
        _,
    ):
        assert readyz_count(base) == 0  # not the last run's request again
        httpx.get(f"{base}/readyz")
        assert readyz_count(base) == 1


def test_gunicorn_json_logs_one_line_per_request_without_secrets(tmp_path: Path) -> None:
    user = UserFactory()
    reset_token, _ = secret_issue(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, ttl=timedelta(hours=1)
    )
    code = "Xq7" * 12
    with (
        gunicorn_portal(tmp_path, workers=1, LOG_FORMAT="json") as (base, log),
        httpx.Client(base_url=base) as client,
    ):
        access = live_api_tokens(client, user.username, DEFAULT_PASSWORD)["access_token"]
        bearer = {"Authorization": f"Bearer {access}"}
        me = client.get("/api/v1/me/", headers={**bearer, "X-Request-ID": "edge-7f3a"})
        assert me.headers["X-Request-ID"] == "edge-7f3a"
        generated = client.get(f"/accounts/password-reset/{reset_token}/")
        client.get(f"/accounts/password-reset/{reset_token}zz/")
        client.get("/o/authorize/", params={"code": code, "token": access})
        client.get("/no-such-page/", params={"code": code}, headers=bearer)
    text = log.read_text()
    # Every line, gunicorn's own included (its access log too), is one JSON object.
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert any(line["logger"] == "gunicorn.access" for line in lines)

    for secret in (reset_token, access, code):
        assert secret not in text
    requests = [
        line
        for line in lines
        if line["logger"] == "identity.request" and line["route"] != "/healthz"  # wait_ready's
    ]
    assert len(requests) == 6  # the sign-in, /me and four more
    [me_line] = [line for line in requests if line["request_id"] == "edge-7f3a"]
    assert me_line["route"] == "/api/v1/me/"
    assert me_line["status"] == 200
    assert me_line["user"] == str(user.public_id)
    assert me_line["sid"]
    assert me_line["client_ip"] == "127.0.0.1"
    [reset_line] = [r for r in requests if r["request_id"] == generated.headers["X-Request-ID"]]
    assert reset_line["route"] == "/accounts/password-reset/<str:token>/"
    # django.request's warning about the wrong link names its request and no token.
    warnings = [line for line in lines if line["logger"] == "django.request"]
    assert warnings
    assert all(line["request_id"] for line in warnings)
    assert any("/accounts/password-reset/[redacted]/" in line["message"] for line in warnings)
