"""The production gunicorn configuration (identity/gunicorn_conf.py) keeps secrets out of the
access log: link tokens in paths and Referers, OAuth parameters in query strings, bearer tokens
in headers (ASVS 4.0.3 V7.1.1)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from accounts.models import OneTimeToken
from accounts.services.secrets import secret_issue
from identity.keys import ensure_signing_key
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import database_url, gunicorn_command, live_api_tokens, wait_ready
from tests.run import free_port

pytestmark = pytest.mark.django_db(transaction=True)

# Every field gunicorn can print: request line, path, query, headers in and out.
EVERYTHING = (
    '%(h)s %(t)s "%(r)s" %(s)s "%(f)s" "%(a)s" %(U)s %(q)s '
    '"%({authorization}i)s" "%({cookie}i)s" "%({referer}i)s" "%({location}o)s"'
)


@contextmanager
def production_gunicorn(tmp: Path, access_log_format: str | None) -> Iterator[str]:
    """The portal as production starts it: gunicorn with identity.gunicorn_conf, access log on."""
    ensure_signing_key()
    port, log = free_port(), tmp / "server.log"
    # One worker: the default (one per CPU) would start dozens on a large CI machine.
    command = gunicorn_command(port, "-w", "1", "--access-logfile", str(tmp / "access.log"))
    if access_log_format:
        command += ["--access-logformat", access_log_format]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
    }
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("access_log_format", [None, EVERYTHING], ids=["default", "everything"])
def test_access_log_holds_no_link_token_code_or_bearer(
    tmp_path: Path, access_log_format: str | None
) -> None:
    user = UserFactory()
    reset_token, _ = secret_issue(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, ttl=timedelta(hours=1)
    )
    verify_token, _ = secret_issue(
        user=user, purpose=OneTimeToken.Purpose.VERIFY_EMAIL, ttl=timedelta(hours=1)
    )
    code = "Xq7" * 12  # an authorization code as a client would echo it
    with production_gunicorn(tmp_path, access_log_format) as base, httpx.Client(base_url=base) as c:
        access = live_api_tokens(c, user.username, DEFAULT_PASSWORD)["access_token"]
        link = f"/accounts/password-reset/{reset_token}/"
        assert c.get(link).status_code == 200  # the emailed link works, and is logged
        c.get("/static/css/portal.css", headers={"Referer": f"{base}{link}"})
        c.get(f"/accounts/verify-email/{verify_token}/")
        c.get(f"/accounts/login/?next=%2Faccounts%2Fpassword-reset%2F{reset_token}%2F")
        c.get("/o/end-session/", params={"id_token_hint": access, "state": "s1"})
        c.get("/o/authorize/", params={"code": code, "token": access})
        assert c.get("/api/v1/me/", headers={"Authorization": f"Bearer {access}"}).is_success
    log = (tmp_path / "access.log").read_text()

    for secret in (reset_token, verify_token, access, code):
        assert secret not in log
    # What the log is for stays readable: which page, which status.
    assert '"GET /accounts/password-reset/[redacted]/ HTTP/1.1" 200' in log
    assert "/accounts/verify-email/[redacted]/" in log
    assert "GET /api/v1/me/ HTTP/1.1" in log
    assert "state=s1" in log
