"""Each hot path's prepared statement (identity.postgres.statements) answers what the ORM
queryset it replaces answers, on the same rows: field values, attached related objects,
saved state, extra flags, and None on a miss."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.db import connection, transaction
from django.db.models import Model
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import user_for_login
from accounts.lockout import LockoutHandler
from accounts.models import Channel, PasskeyChallenge, UserSession
from accounts.selectors import user_get_for_access_token
from accounts.services.mfa import passkeys
from accounts.services.sessions.upkeep import session_refresh_jti_swap
from identity.hashing import sha256_hex
from identity.postgres.statements import orm_only
from sso import token_store
from tests.passkeys import authenticator_new, passkey_enrol
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    pytest.skip("the fast paths run on Postgres only", allow_module_level=True)


# -- the cases: each sets up rows and returns the call to run both ways ----------------------
def _sign_in_lookup(login: Callable[[Any], str], *, profile: bool = True):
    def case(user, **_: Any):
        if not profile:
            user.profile.delete()
        text = login(user)
        return lambda: user_for_login(login=text)

    return case


def _lockout_count(login: Callable[[Any], str], ip: str):
    def case(user, **_: Any):
        for address in ("203.0.113.9", "203.0.113.9", "198.51.100.2"):
            Client(REMOTE_ADDR=address).post(
                reverse("api:accounts:login"),
                {"login": user.username, "password": "wrong"},
                content_type="application/json",
            )
        credentials = {"username": login(user)}

        def run() -> int:
            request = RequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR=ip)
            AxesProxyHandler.update_request(request)
            return LockoutHandler().get_failures(request, credentials)

        return run

    return case


def _access_token_lookup(state: str):
    def case(user, user_session_factory, **_: Any):
        traits = {"revoked": state == "revoked"}
        session = user_session_factory(user=user, channel=Channel.API, **traits)
        public_id = uuid.uuid4() if state == "unknown user" else user.public_id
        return lambda: user_get_for_access_token(public_id=public_id, sid=session.pk)

    return case


def _refresh_token_lookup(state: str):
    def case(user, client, user_factory, **_: Any):
        issued = sign_in(client, register(user_factory()), user)
        if state == "ended session":
            UserSession.objects.filter(user=user).update(revoked_at=timezone.now())
        raw = "not-a-token" if state == "unknown" else issued["refresh_token"]
        now = timezone.now()
        return lambda: token_store.refresh_token_load(checksum=sha256_hex(raw), now=now)

    return case


def _refresh_rotation(state: str):
    def case(user, user_session_factory, **_: Any):
        session = user_session_factory(
            user=user, channel=Channel.API, refresh_jti="jti-1", expired=state == "expired"
        )
        jti = "jti-0" if state == "stale jti" else "jti-1"
        now = timezone.now()

        def run() -> tuple[bool, dict]:
            # A write: each way runs in a savepoint rolled back, from the same rows.
            with transaction.atomic():
                swapped = session_refresh_jti_swap(
                    session_id=session.pk,
                    jti=jti,
                    new_jti="jti-2",
                    now=now,
                    expires_at=now + timedelta(days=14),
                )
                row = UserSession.objects.filter(pk=session.pk).values().get()
                transaction.set_rollback(True)
            return swapped, row

        return run

    return case


def _passkey_sign_in_take(state: str):
    def case(user, **_: Any):
        passkey, _codes = passkey_enrol(user, authenticator_new())
        purpose = PasskeyChallenge.Purpose
        kind = purpose.FACTOR if state == "factor challenge" else purpose.SIGN_IN
        challenge = passkeys._challenge_issue(purpose=kind, user=user)
        credential_id = "unknown" if state == "unknown credential" else passkey.credential_id

        def run() -> tuple[Any, list[str]]:
            # A write: each way runs in a savepoint rolled back, from the same rows.
            with transaction.atomic():
                found = passkeys._sign_in_challenge_take(
                    challenge=challenge, credential_id=credential_id
                )
                left = list(PasskeyChallenge.objects.values_list("purpose", flat=True))
                transaction.set_rollback(True)
            return found, left

        return run

    return case


CASES = {
    "sign-in by username": _sign_in_lookup(lambda u: u.username.upper()),
    "sign-in by email": _sign_in_lookup(lambda u: f" {u.email.upper()} "),
    "sign-in without a profile": _sign_in_lookup(lambda u: u.username, profile=False),
    "sign-in miss": _sign_in_lookup(lambda u: "nobody@example.com"),
    "lockout count": _lockout_count(lambda u: u.username, "203.0.113.9"),
    "lockout count elsewhere": _lockout_count(lambda u: u.username, "198.51.100.2"),
    "lockout count none": _lockout_count(lambda u: "someone-else", "203.0.113.9"),
    "access token live": _access_token_lookup("live"),
    "access token revoked": _access_token_lookup("revoked"),
    "access token unknown user": _access_token_lookup("unknown user"),
    "refresh token": _refresh_token_lookup("live"),
    "refresh token ended session": _refresh_token_lookup("ended session"),
    "refresh token unknown": _refresh_token_lookup("unknown"),
    "refresh rotation": _refresh_rotation("current"),
    "refresh rotation stale jti": _refresh_rotation("stale jti"),
    "refresh rotation expired": _refresh_rotation("expired"),
    "passkey sign-in": _passkey_sign_in_take("sign-in challenge"),
    "passkey sign-in unknown credential": _passkey_sign_in_take("unknown credential"),
    "passkey sign-in with a factor challenge": _passkey_sign_in_take("factor challenge"),
}


@pytest.mark.parametrize("name", CASES)
def test_fast_path_returns_what_the_orm_returns(
    name, user, client, user_factory, user_session_factory, settings
):
    settings.ACCESS_TOKEN_MEMORY_SECONDS = 0  # the database answers every time
    run = CASES[name](
        user, client=client, user_factory=user_factory, user_session_factory=user_session_factory
    )

    with orm_only(), CaptureQueriesContext(connection) as orm_queries:
        expected = run()
    with CaptureQueriesContext(connection) as fast_queries:
        actual = run()

    assert _comparable(actual) == _comparable(expected)
    # The statement ran, not the queryset again, and in no more queries.
    assert _sql(fast_queries) != _sql(orm_queries)
    assert len(_sql(fast_queries)) <= len(_sql(orm_queries))


ROOT = Path(__file__).resolve().parents[2]
OWN_SQL = re.compile(r"prepared_cursor|instance_from_row|ServerBindingCursor|\.from_db\(")


def test_only_identity_postgres_prepares_statements_or_builds_instances_from_rows():
    """The hot paths go through identity.postgres.statements: no app keeps its own runner."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in ("identity", "accounts", "authz", "sso")
        for path in sorted((ROOT / app).rglob("*.py"))
        if "postgres" not in path.relative_to(ROOT).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OWN_SQL.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def _sql(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def _comparable(value: Any, seen: frozenset[int] = frozenset()) -> Any:
    """A model instance as its class, saved state, public attributes (columns and flags) and
    the related objects cached on it, recursively; anything else as it is."""
    if isinstance(value, Model):
        if id(value) in seen:
            return ("again", type(value), value.pk)
        seen = seen | {id(value)}
        public = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        cached = {k: _comparable(v, seen) for k, v in value._state.fields_cache.items()}
        return type(value), value._state.adding, value._state.db, public, cached
    if isinstance(value, tuple | list):
        return [_comparable(item, seen) for item in value]
    return value
