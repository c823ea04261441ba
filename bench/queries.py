"""Queries per request for each benchmarked endpoint, from Django's query log, with the minimum.

    python -m bench.queries CAST.json   # prints JSON; run with a local-memory cache

Each endpoint is called once to warm caches, then once under CaptureQueriesContext. The
minimum is written by hand: the rows the request must read or write, nothing else.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.code_flow import authorize_query, pkce_pair, token_body  # noqa: E402
from bench.run import jwt_claims  # noqa: E402

# The bench's own Redis database (bench.run.REDIS_URL, same override); its servers have
# stopped by now.
REDIS_CACHE = {
    "BACKEND": "identity.redis_cache.RedisCache",
    "LOCATION": os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/11",
    "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
}

HOST = {"SERVER_NAME": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}
# endpoint -> (minimum, why)
MINIMUM = {
    # The lockout check (django-axes' failure count for the username and IP) is a read every
    # sign-in must make before it checks a password; BEGIN/COMMIT count as statements too.
    "POST /api/v1/auth/login/": (
        4,
        "user by login, lockout check, insert session, insert login event",
    ),
    "POST /accounts/login/": (
        5,
        "user, lockout check, session row, login event, Django session",
    ),
    "GET /api/v1/me/": (1, "user by the token's sub, with its sign-in's state"),
    "GET /api/v1/me/ token seen before (Redis)": (
        0,
        "nothing: the process remembers the sign-in until a change is published",
    ),
    "GET /bench/bare/": (0, "nothing"),
    "GET /healthz": (0, "nothing"),
    "POST /o/token/ refresh_token": (2, "refresh token with its checks, one rotation statement"),
    "POST /o/token/ client_credentials": (2, "client, insert access token"),
    "POST /o/introspect/": (1, "the token with its client (client auth cached)"),
    "GET /o/authorize/ consent remembered": (
        5,
        "session, user, consent, browser sign-in, one insert: code + sign-in (client cached)",
    ),
    "POST /o/token/ authorization_code": (
        2,
        "code with its client and checks, one statement spending it and writing the tokens",
    ),
    "POST /api/v1/authz/check/ warm": (1, "user by the token's sub (the check itself: 0)"),
    "POST /api/v1/authz/check/ warm, token seen before (Redis)": (0, "nothing"),
    "POST /api/v1/authz/check/ cold": (3, "user, role graph, the user's assignments"),
    "DELETE /api/v1/me/sessions/{id}/": (
        5,
        "user, session, lock it if live, mark it revoked, its session.revoked event",
    ),
    "GET /api/v1/me/login-history/": (3, "user, count, one page"),
    "GET /api/v1/users/?search=": (3, "user, count, one page"),
}


def count(
    call: Callable[..., Any],
    *,
    warm: bool = True,
    authz_only: bool = False,
    prepare: Callable[[], Any] | None = None,
) -> int:
    """Queries of one ``call``. ``prepare``, when given, makes the call's argument first,
    outside the count: revoking a sign-in needs a fresh one each time, and the sign-in's own
    queries are the login row's, not the revocation's."""

    def once() -> tuple[Any, CaptureQueriesContext]:
        argument = () if prepare is None else (prepare(),)
        with CaptureQueriesContext(connection) as queries:
            response = call(*argument)
        return response, queries

    if warm:
        once()
    response, queries = once()
    assert response.status_code < 400, (response.status_code, response.content[:300])  # noqa: S101
    if authz_only:
        return sum(reads_authz_tables(q["sql"]) for q in queries.captured_queries)
    return len(queries)


def reads_authz_tables(sql: str) -> bool:
    """Whether a statement reads authz's tables: by their quoted names, since a column of
    another table may also start with ``authz_`` (the user row's ``authz_version``)."""
    from django.apps import apps

    tables = (model._meta.db_table for model in apps.get_app_config("authz").get_models())
    return any(f'"{table}"' in sql for table in tables)


class CodeFlowCalls:
    """The authorization-code flow's two requests (bench.code_flow), one at a time: the
    authorization of a signed-in browser, and the exchange of a code made beforehand."""

    def __init__(self, cast: dict, browser: Client) -> None:
        self.cast, self.browser, self.server = cast, browser, Client(**HOST)

    def authorize(self) -> Any:
        self.verifier, challenge = pkce_pair()
        extra = urlencode({"state": "s", "nonce": "n", "code_challenge": challenge})
        response = self.browser.get(f"{authorize_query(self.cast)}&{extra}")
        assert "code=" in response.get("Location", ""), response.status_code  # noqa: S101
        return response

    def code(self) -> tuple[str, str]:
        location = self.authorize()["Location"]
        return parse_qs(urlsplit(location).query)["code"][0], self.verifier

    def exchange(self, code: tuple[str, str]) -> Any:
        body = f"{token_body(self.cast)}&{urlencode({'code': code[0], 'code_verifier': code[1]})}"
        return self.server.post(
            "/o/token/",
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=self.cast["web_basic"],
        )


def main(cast: dict) -> dict[str, dict]:
    password = cast["password"]
    client = Client(**HOST)
    member = {"login": cast["member"]["username"], "password": password}

    def login() -> Any:
        return client.post("/api/v1/auth/login/", member, content_type="application/json")

    def bearer(username: str) -> dict[str, str]:
        body = {"login": username, "password": password}
        token = client.post("/api/v1/auth/login/", body, content_type="application/json")
        return {"HTTP_AUTHORIZATION": f"Bearer {token.json()['access_token']}"}

    auth, admin = bearer(cast["member"]["username"]), bearer(cast["admin"]["username"])
    check = {"permission": "bench.check"}
    page = {"username": member["login"], "password": password}
    refresh = {"token": cast["refresh_tokens"][-1]}

    def refresh_grant() -> Any:
        body = {"grant_type": "refresh_token", "refresh_token": refresh["token"]}
        response = client.post("/o/token/", body, HTTP_AUTHORIZATION=cast["web_basic"])
        refresh["token"] = response.json().get("refresh_token", refresh["token"])
        return response

    def sign_in() -> dict[str, str]:
        return bearer(cast["member"]["username"])

    def revoke(headers: dict[str, str]) -> Any:
        sid = jwt_claims(headers["HTTP_AUTHORIZATION"].removeprefix("Bearer "))["sid"]
        return client.delete(f"/api/v1/me/sessions/{sid}/", **headers)

    browser = Client(**HOST)
    browser.post("/accounts/login/", page)  # a browser signed in through the page, once
    flow = CodeFlowCalls(cast, browser)

    def cold_check() -> Any:
        cache.clear()
        return client.post("/api/v1/authz/check/", check, content_type="application/json", **auth)

    calls: dict[str, Callable[..., Any]] = {
        "POST /api/v1/auth/login/": login,
        "POST /accounts/login/": lambda: Client(**HOST).post("/accounts/login/", page),
        "GET /api/v1/me/": lambda: client.get("/api/v1/me/", **auth),
        "GET /bench/bare/": lambda: client.get("/bench/bare/"),
        "GET /healthz": lambda: client.get("/healthz"),
        "POST /o/token/ refresh_token": refresh_grant,
        "POST /o/token/ client_credentials": lambda: client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "scope": "read"},
            HTTP_AUTHORIZATION=cast["service_basic"],
        ),
        "POST /o/introspect/": lambda: client.post(
            "/o/introspect/",
            {"token": cast["service_access_token"]},
            HTTP_AUTHORIZATION=cast["service_basic"],
        ),
        "GET /o/authorize/ consent remembered": flow.authorize,
        "POST /o/token/ authorization_code": flow.exchange,
        "POST /api/v1/authz/check/ warm": lambda: client.post(
            "/api/v1/authz/check/", check, content_type="application/json", **auth
        ),
        "POST /api/v1/authz/check/ cold": cold_check,
        "DELETE /api/v1/me/sessions/{id}/": revoke,
        "GET /api/v1/me/login-history/": lambda: client.get("/api/v1/me/login-history/", **auth),
        "GET /api/v1/users/?search=": lambda: client.get("/api/v1/users/?search=u000001", **admin),
    }
    prepared = {
        "DELETE /api/v1/me/sessions/{id}/": sign_in,
        "POST /o/token/ authorization_code": flow.code,
    }
    result = {}
    for name, call in calls.items():
        minimum, why = MINIMUM[name]
        queries = count(call, prepare=prepared.get(name))
        result[name] = {"queries": queries, "minimum": minimum, "minimum_is": why}
    warm_check = calls["POST /api/v1/authz/check/ warm"]
    result["POST /api/v1/authz/check/ warm"]["authz_queries"] = count(warm_check, authz_only=True)
    # The rows above run on a local-memory cache, so that each shows the queries a request
    # needs when nothing is remembered; in production the cache is Redis, and a process
    # remembers the sign-ins of the tokens it has seen (accounts.signin_memory).
    with override_settings(CACHES={"default": REDIS_CACHE}):
        for name, call in (
            ("GET /api/v1/me/ token seen before (Redis)", calls["GET /api/v1/me/"]),
            ("POST /api/v1/authz/check/ warm, token seen before (Redis)", warm_check),
        ):
            minimum, why = MINIMUM[name]
            result[name] = {"queries": count(call), "minimum": minimum, "minimum_is": why}
    return result


if __name__ == "__main__":
    from identity import keys

    # The signing key set's recheck (one query a second per process, identity.keys) belongs to
    # no request: it must not land in whichever request is being counted.
    keys.RECHECK_SECONDS = float("inf")
    print(json.dumps(main(json.loads(Path(sys.argv[1]).read_text()))))
