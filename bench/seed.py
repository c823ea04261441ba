"""Seeding for `make bench`: the cast (factories and services) and bulk growth (generate_series).

    python -m bench.seed cast OUT.json          # users, roles, OAuth clients, tokens
    python -m bench.seed grow USERS EVENTS      # bulk users and sign-in events, up to totals

Runs inside the bench's own Django settings (production profile, the bench database). Bulk
rows are made by Postgres itself with INSERT ... SELECT generate_series: one statement per
table, no row crosses the wire, so 1M users and 10M events take minutes, not hours.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

HOST = {"SERVER_NAME": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}
# Every user the cast makes shares one password and so one Argon2id hash computation.
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - the factories' test password
READER_EVENTS = 40
ROLE_LEVELS = 3
ROLES = 10
# Refresh tokens rotate on use, so the bench keeps a pool; one per connection and spares.
REFRESH_POOL = int(os.environ.get("BENCH_REFRESH_POOL", "40"))
# The scopes the member approves for the web client (bench.code_flow asks for the same).
WEB_SCOPE = "openid read"


def say(message: str) -> None:
    print(f"bench.seed: {message}", file=sys.stderr, flush=True)


def _roles(admin: Any) -> list[Any]:
    """10 roles in 3 levels of inclusion: top roles include middle ones, which include leaves.

    The checked permission is granted only by a leaf, so a check walks all three levels."""
    from authz import services as authz
    from authz.models import Permission

    for code in ("bench.check", "users.read", "authz.check", *(f"bench.p{i}" for i in range(20))):
        if not Permission.objects.filter(code=code).exists():  # some come from migrations
            authz.permission_create(code=code)
    leaves = [
        authz.role_create(name=f"bench-leaf-{i}", permissions=[f"bench.p{i}", f"bench.p{i + 10}"])
        for i in range(4)
    ]
    leaves[0] = authz.role_update(role=leaves[0], permissions=["bench.check", "bench.p0"])
    middles = [
        authz.role_create(
            name=f"bench-mid-{i}",
            permissions=[f"bench.p{i + 4}"],
            included_roles=[leaves[i % 4].name, leaves[(i + 1) % 4].name],
        )
        for i in range(3)
    ]
    tops = [
        authz.role_create(
            name=f"bench-top-{i}",
            permissions=[f"bench.p{i + 7}"],
            included_roles=[middles[i].name],
        )
        for i in range(3)
    ]
    roles = [*leaves, *middles, *tops]
    assert len(roles) == ROLES  # noqa: S101 - the figure promises exactly this shape
    authz.role_create(name="bench-admin", permissions=["users.read", "authz.check"])
    return roles


def _oauth(owner: Any, user: Any) -> dict[str, Any]:
    from django.test.utils import setup_test_environment

    from tests.sso.conftest import (
        REDIRECT_URI,
        authorize,
        basic,
        exchange,
        pkce_pair,
        query,
        register,
    )

    setup_test_environment()  # the consent helper reads the rendered form from the context
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    # Confidential, not first-party: the member approves it once below (the consent page's
    # form), and bench.code_flow's authorizations find that consent remembered.
    web = register(owner)
    browser = Client(**HOST)
    browser.force_login(user)
    refresh_tokens = []
    for _ in range(REFRESH_POOL):
        verifier, challenge = pkce_pair()
        code = query(authorize(browser, web, challenge=challenge, scope=WEB_SCOPE))["code"]
        tokens = exchange(Client(**HOST), web, code, verifier).json()
        refresh_tokens.append(tokens["refresh_token"])
    response = Client(**HOST).post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic(service.client_id, service.secret),
    )
    return {
        "service_basic": basic(service.client_id, service.secret),
        "web_basic": basic(web.client_id, web.secret),
        "web_client_id": web.client_id,
        "web_redirect_uri": REDIRECT_URI,
        "web_scope": WEB_SCOPE,
        "refresh_tokens": refresh_tokens,
        "service_access_token": response.json()["access_token"],
    }


def cast(out: Path) -> None:
    """The named users and clients every figure needs, through factories and services."""
    from authz import services as authz
    from authz.models import Role
    from tests.factories import LoginEventFactory, UserFactory

    started = time.monotonic()
    member = UserFactory(username="bench.member", password=PASSWORD)
    admin = UserFactory(username="bench.admin", password=PASSWORD)
    # The scale rows read this user's history: it signs in only for them, so its own history
    # is the same length on every server and only the table around it grows (the member's
    # grows by thousands during the login figure).
    reader = UserFactory(username="bench.reader", password=PASSWORD)
    LoginEventFactory.create_batch(READER_EVENTS, user=reader)
    # Signs in with a passkey only (bench.run registers it over the API): once it has one, its
    # password alone no longer signs in, so no other figure may use this account.
    passkey_user = UserFactory(username="bench.passkey", password=PASSWORD)
    for role in _roles(admin):
        # The seed is the system, not an administrator: no actor, so no ceiling on what it grants.
        authz.role_assign(user=member, role=role, granted_by=None)
    authz.role_assign(user=admin, role=Role.objects.get(name="bench-admin"), granted_by=None)
    data = {
        "password": PASSWORD,
        "member": {"username": member.username, "public_id": str(member.public_id)},
        "admin": {"username": admin.username, "public_id": str(admin.public_id)},
        "reader": {"username": reader.username, "public_id": str(reader.public_id)},
        "passkey": {"username": passkey_user.username, "public_id": str(passkey_user.public_id)},
        **_oauth(admin, member),
    }
    out.write_text(json.dumps(data))
    say(f"cast ready in {time.monotonic() - started:.1f}s")


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own table names
        return cursor.fetchone()[0]


USERS_SQL = """
INSERT INTO accounts_user (password, is_superuser, public_id, username, email, user_type,
    email_verified_at, must_change_password, is_active, is_staff, is_service_account,
    authz_version, date_joined, updated_at)
SELECT %(hash)s, false, md5(%(salt)s || n)::uuid, 'u' || lpad(n::text, 7, '0'),
    'u' || lpad(n::text, 7, '0') || '@bench.example.com', 'customer', now(), false, true,
    false, false, 0, now() - make_interval(mins => n), now()
FROM generate_series(%(start)s, %(stop)s) AS n
"""
PROFILES_SQL = """
INSERT INTO accounts_profile (first_name, last_name, phone_number, address, created_at,
    updated_at, user_id)
SELECT 'Bench', 'User ' || u.id, '', '', now(), now(), u.id
FROM accounts_user u LEFT JOIN accounts_profile p ON p.user_id = u.id
WHERE p.id IS NULL
"""
# Events spread over every bench user, 90 days back, 1 in 10 a failure; the named cast
# users get theirs too so their history pages are full.
EVENTS_SQL = """
INSERT INTO accounts_loginevent (identifier, outcome, reason, channel, ip, user_agent,
    device_label, created_at, user_id)
SELECT 'u' || lpad(((n %% %(users)s) + 1)::text, 7, '0'),
    CASE WHEN n %% 10 = 0 THEN 'bad_credentials' ELSE 'success' END, '', 'api',
    '127.0.0.1'::inet, 'bench', 'bench', now() - make_interval(secs => n %% 7776000),
    (SELECT min(id) FROM accounts_user WHERE email LIKE '%%@bench.example.com')
        + (n %% %(users)s)
FROM generate_series(%(start)s, %(stop)s) AS n
"""


def grow(users: int, events: int) -> None:
    """Brings the bulk users and sign-in events up to the given totals."""
    from django.contrib.auth.hashers import make_password

    have_users = _count("accounts_user WHERE email LIKE '%%@bench.example.com'")
    have_events = _count("accounts_loginevent")
    started = time.monotonic()
    with connection.cursor() as cursor:
        # The bench database only: skips the per-row foreign-key triggers of a bulk insert
        # (the rows are made consistent by construction). Needs the superuser it runs as.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        if users > have_users:
            hash_ = make_password(PASSWORD)
            salt = uuid.uuid4().hex
            params = {"hash": hash_, "salt": salt, "start": have_users + 1, "stop": users}
            cursor.execute(USERS_SQL, params)
            cursor.execute(PROFILES_SQL)
        if events > have_events:
            params = {"users": users, "start": have_events + 1, "stop": events}
            cursor.execute(EVENTS_SQL, params)
    # Measured as a production database runs, with autovacuum done and no checkpoint due (some
    # machines run Postgres with autovacuum off): hint bits and visibility map set, so index-
    # only scans skip the heap, and the bulk load's dirty pages written out before the clock.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) accounts_user, accounts_profile, accounts_loginevent")
        cursor.execute("CHECKPOINT")
    say(f"{users} users, {events} events in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "cast":
        cast(Path(args[0]))
    elif command == "grow":
        grow(int(args[0]), int(args[1]))
    else:
        raise SystemExit(__doc__)
