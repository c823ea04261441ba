"""OAuth speed, measured in-process against a bare Django view in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/identity_bench \\
        .venv/bin/python -m bench.oauth_speed [seconds-per-case]

Uses the production password hashers (FAST_PASSWORD_HASHER=false) and a throwaway test
database. Token requests are form-encoded, as real clients (and bench/run.py) send them.
Prints requests per second (one process, one core), ratios to the bare view and this
process's CPU milliseconds per request, the steadier figure on a shared machine.
"""

from __future__ import annotations

# ruff: noqa: S101 - a benchmark asserts that each request succeeded
import base64
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["DJANGO_ENV"] = "test"
os.environ["FAST_PASSWORD_HASHER"] = "false"  # noqa: S105 - a flag, not a secret

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

FORM = "application/x-www-form-urlencoded"


def rate(fn: Callable[[], object], seconds: float) -> tuple[float, float, float | None]:
    """Requests per second, then CPU milliseconds per request of this process and of its
    Postgres backend: on a shared machine the CPU figures move far less with other load."""
    for _ in range(20):  # warm caches and connections
        fn()
    count, start = 0, time.perf_counter()
    cpu, db_cpu = time.process_time(), backend_cpu_seconds()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    db_end = backend_cpu_seconds()
    db_ms = None if db_cpu is None or db_end is None else (db_end - db_cpu) * 1000 / count
    return count / elapsed, cpu * 1000 / count, db_ms


def backend_cpu_seconds() -> float | None:
    """user + system CPU of this connection's Postgres backend, when it runs on this machine
    and /proc lets us read it; None otherwise."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(seconds: float) -> None:
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(seconds)
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def run(seconds: float) -> None:
    from django.urls import reverse

    from tests.factories import UserFactory
    from tests.sso.conftest import authorize, exchange, pkce_pair, query, register

    owner, user = UserFactory(), UserFactory()
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    web = register(owner)
    client = Client()
    basic = "Basic " + base64.b64encode(f"{service.client_id}:{service.secret}".encode()).decode()
    token_url = reverse("oauth2_provider:token")

    def client_credentials() -> None:
        response = client.post(
            token_url,
            urlencode({"grant_type": "client_credentials", "scope": "read"}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic,
        )
        assert response.status_code == 200, response.content

    browser = Client()
    browser.force_login(user)
    verifier, challenge = pkce_pair()
    code = query(authorize(browser, web, challenge=challenge, scope="openid read"))["code"]
    tokens = exchange(Client(), web, code, verifier).json()
    web_basic = "Basic " + base64.b64encode(f"{web.client_id}:{web.secret}".encode()).decode()
    state = {"refresh": tokens["refresh_token"]}

    def refresh() -> None:
        response = client.post(
            token_url,
            urlencode({"grant_type": "refresh_token", "refresh_token": state["refresh"]}),
            content_type=FORM,
            HTTP_AUTHORIZATION=web_basic,
        )
        assert response.status_code == 200, response.content
        state["refresh"] = response.json()["refresh_token"]

    fresh = exchange_fresh_token(browser, web)
    api_auth = f"Bearer {fresh}"
    me_url = reverse("api:accounts:me")

    def api_request() -> None:
        assert client.get(me_url, HTTP_AUTHORIZATION=api_auth).status_code == 200

    def bare_view() -> None:
        assert client.get(reverse("healthz")).status_code == 200

    results = {
        "bare Django view (/healthz)": rate(bare_view, seconds),
        "client_credentials grant": rate(client_credentials, seconds),
        "refresh_token grant (rotation, id_token)": rate(refresh, seconds),
        "API GET /api/v1/me/ with OAuth token": rate(api_request, seconds),
    }
    bare = results["bare Django view (/healthz)"][0]
    print(f"{'case':45} {'req/s':>9} {'x bare':>8} {'CPU ms/req':>11} {'DB CPU ms/req':>14}")
    for name, (value, cpu_ms, db_ms) in results.items():
        db = "n/a" if db_ms is None else f"{db_ms:.2f}"
        print(f"{name:45} {value:9.0f} {value / bare:8.2f} {cpu_ms:11.2f} {db:>14}")


def exchange_fresh_token(browser: Client, web) -> str:
    from tests.sso.conftest import authorize, exchange, pkce_pair, query

    verifier, challenge = pkce_pair()
    code = query(authorize(browser, web, challenge=challenge, scope="openid read"))["code"]
    return exchange(Client(), web, code, verifier).json()["access_token"]


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
