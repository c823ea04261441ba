"""OAuth speed, measured in-process against a bare Django view in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/identity_bench \\
        .venv/bin/python -m bench.oauth_speed [seconds-per-case]

Uses the production password hashers (FAST_PASSWORD_HASHER=false) and a throwaway test
database. Prints requests per second (one process, one core) and ratios to the bare view.
"""

from __future__ import annotations

# ruff: noqa: S101 - a benchmark asserts that each request succeeded
import base64
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["DJANGO_ENV"] = "test"
os.environ["FAST_PASSWORD_HASHER"] = "false"  # noqa: S105 - a flag, not a secret

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def rate(fn: Callable[[], object], seconds: float) -> float:
    for _ in range(20):  # warm caches and connections
        fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


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
            {"grant_type": "client_credentials", "scope": "read"},
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
            {"grant_type": "refresh_token", "refresh_token": state["refresh"]},
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

    bare = rate(bare_view, seconds)
    results = {
        "bare Django view (/healthz)": bare,
        "client_credentials grant": rate(client_credentials, seconds),
        "refresh_token grant (rotation, id_token)": rate(refresh, seconds),
        "API GET /api/v1/me/ with OAuth token": rate(api_request, seconds),
    }
    print(f"{'case':45} {'req/s':>9} {'x bare':>8}")
    for name, value in results.items():
        print(f"{name:45} {value:9.0f} {value / bare:8.2f}")


def exchange_fresh_token(browser: Client, web) -> str:
    from tests.sso.conftest import authorize, exchange, pkce_pair, query

    verifier, challenge = pkce_pair()
    code = query(authorize(browser, web, challenge=challenge, scope="openid read"))["code"]
    return exchange(Client(), web, code, verifier).json()["access_token"]


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
