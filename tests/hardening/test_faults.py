"""Faults under real server processes: Postgres stopped under load, Redis unreachable, SMTP down.

The Postgres test stops a private cluster (tests/hardening/pgcluster.py), never the shared one;
the Redis and SMTP tests point the portal at ports where nothing listens.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jsonschema
import jwt
import psycopg
import pytest
import redis
from django.test import Client
from django.urls import reverse

from accounts.models import User, UserSession
from authz.models import Permission, Role, RoleAssignment, RolePermission
from identity.api.errors import RETRY_AFTER_SECONDS
from identity.keys import ensure_signing_key
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.hardening.pgcluster import Cluster
from tests.processes import database_url, live_api_login, live_api_tokens, portal_processes
from tests.run import free_port
from tests.sso.conftest import basic, register, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE_SECONDS = 10
SLOWEST_ALLOWED = 5.0
UNTHROTTLED = {
    f"API_THROTTLE_{scope}": "100000/min"
    for scope in ("SIGNUP", "SIGNUP_IDENTIFIER", "LOGIN", "LOGIN_IDENTIFIER", "REFRESH")
} | {
    "API_THROTTLE_VERIFY_RESEND": "100000/min",
    "API_THROTTLE_VERIFY_RESEND_IDENTIFIER": "1000/min",
}
NEW_PASSWORD = "a brand new passphrase 2024"


def portal_env(tmp: Path, **extra: str) -> dict[str, str]:
    ensure_signing_key()  # in the shared test database, before the servers start
    return {"ACCOUNT_EMAIL_VERIFICATION": "optional"} | {
        **UNTHROTTLED,
        **extra,
    }


# -- Postgres ---------------------------------------------------------------------------------


class Load:
    """One client thread sending a mixed workload until stopped; every answer is recorded."""

    def __init__(self, base: str, access: str) -> None:
        self.base, self.access = base, access
        self.results: list[tuple[str, int, float, str]] = []
        self.signed_up: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _requests(self, i: int) -> list[tuple[str, str, dict]]:
        auth = {"Authorization": f"Bearer {self.access}"}
        signup = {"username": f"load{i}", "email": f"load{i}@example.com", "password": NEW_PASSWORD}
        return [
            ("GET", "/api/v1/me/", {"headers": auth}),
            ("POST", "/api/v1/auth/signup/", {"json": signup}),
            ("POST", "/o/token/", {"data": {"grant_type": "client_credentials"}}),
            ("GET", "/readyz", {}),
        ]

    def _run(self) -> None:
        i = 0
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                i += 1
                for method, path, kwargs in self._requests(i):
                    started = time.monotonic()
                    try:
                        response = client.request(method, path, **kwargs)
                    except httpx.HTTPError as error:
                        self.results.append((path, -1, time.monotonic() - started, repr(error)))
                        continue
                    took = time.monotonic() - started
                    self.results.append((path, response.status_code, took, _kind(response)))
                    if path.endswith("signup/") and response.status_code == 201:
                        self.signed_up.append(response.json()["username"])

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def _kind(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0]
    if response.status_code == 503:
        kind += f" retry-after={response.headers.get('retry-after')}"
    return kind


@contextmanager
def private_postgres() -> Iterator[tuple[Cluster, str]]:
    cluster = Cluster()
    try:
        cluster.init()
        yield cluster, cluster.copy_database(database_url())
    finally:
        cluster.destroy()


def _documented_503(client: httpx.Client, path: str, method: str) -> dict:
    """The JSON schema the served OpenAPI document gives the 503 of one operation."""
    document = client.get("/api/schema/", params={"format": "json"}).json()
    response = document["paths"][path][method]["responses"]["503"]
    schema = response["content"]["application/problem+json"]["schema"]
    return {**schema, "components": document["components"]}


def _during_outage_checks(base: str, documented_503: dict) -> None:
    """While Postgres is down: readiness says so fast, pages and APIs are 503s as the schema
    documents them, liveness is up."""
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get(reverse("accounts:login"))
        csrf = client.cookies.get("csrftoken", "")
        started = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] is False
        assert time.monotonic() - started < SLOWEST_ALLOWED
        assert client.get("/healthz").status_code == 200
        api = live_api_login(client, "someone", DEFAULT_PASSWORD)
        assert api.status_code == 503, api.text
        assert api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["code"] == "service_unavailable"
        jsonschema.validate(api.json(), documented_503)
        assert api.headers["retry-after"].isdigit()
        form = {"csrfmiddlewaretoken": csrf, "username": "someone", "password": "whatever"}
        html = client.post(reverse("accounts:login"), data=form, headers={"Referer": base})
        assert page.status_code in {200, 503}
        assert html.status_code == 503, html.text[:500]
        assert html.headers["content-type"].startswith("text/html")
        assert "Temporarily unavailable" in html.text


def _wait_recovered(client: httpx.Client, access: str) -> float:
    """Seconds until the same server process answers from the database again."""
    started = time.monotonic()
    while time.monotonic() - started < 30:
        me = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {access}"})
        if me.status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail("the portal did not recover within 30 s of Postgres coming back")


def _half_written(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = {
            "users without profile": """SELECT count(*) FROM accounts_user u
                WHERE NOT EXISTS (SELECT 1 FROM accounts_profile p WHERE p.user_id = u.id)""",
            "api sessions without refresh jti": """SELECT count(*) FROM accounts_usersession
                WHERE channel = 'api' AND refresh_jti = '' AND revoked_at IS NULL""",
        }
        return {name: conn.execute(sql).fetchone()[0] for name, sql in rows.items()}


def _users(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {row[0] for row in conn.execute("SELECT username FROM accounts_user")}


def test_postgres_outage_answers_fast_503s_and_the_portal_recovers(tmp_path: Path) -> None:
    with private_postgres() as (cluster, db_url):
        env = portal_env(tmp_path, DATABASE_URL=db_url, DB_CONN_MAX_AGE="60")
        with portal_processes(1, env=env, tmp=tmp_path) as (base,):
            client = httpx.Client(base_url=base, timeout=30)
            signup = {"username": "alice", "email": "a@example.com", "password": NEW_PASSWORD}
            assert client.post("/api/v1/auth/signup/", json=signup).status_code == 201
            access = client.post(
                "/api/v1/auth/login/", json={"login": "alice", "password": NEW_PASSWORD}
            ).json()["access_token"]
            documented_503 = _documented_503(client, "/api/v1/auth/login/", "post")
            with Load(base, access) as load:
                time.sleep(1)
                cluster.stop()
                outage = time.monotonic()
                _during_outage_checks(base, documented_503)
                time.sleep(max(0, OUTAGE_SECONDS - (time.monotonic() - outage)))
                cluster.start()
                recovery = _wait_recovered(client, access)
                time.sleep(1)
            client.close()
            log = (tmp_path / "server-0.log").read_text()

        statuses = {status for _, status, _, _ in load.results}
        assert 503 in statuses, "the outage was never observed"
        assert statuses <= {200, 201, 400, 401, 409, 503}, statuses
        slow = [r for r in load.results if r[2] > SLOWEST_ALLOWED]
        assert not slow, slow
        unavailable = {(path, kind) for path, status, _, kind in load.results if status == 503}
        # Clients get a problem they may retry; /readyz is a probe with its own JSON body.
        assert {kind for path, kind in unavailable if path != "/readyz"} == {
            f"application/problem+json retry-after={RETRY_AFTER_SECONDS}"
        }
        assert "Internal Server Error" not in log
        assert set(load.signed_up) <= _users(db_url)
        assert _half_written(db_url) == {
            "users without profile": 0,
            "api sessions without refresh jti": 0,
        }
        print(  # the report reads these with pytest -s
            f"outage: {len(load.results)} requests, recovered {recovery:.1f}s after restart, "
            f"slowest {max(r[2] for r in load.results):.2f}s"
        )


# -- Redis ------------------------------------------------------------------------------------


def test_redis_down_serves_from_the_database_and_says_so(tmp_path: Path) -> None:
    user, other = UserFactory(), UserFactory()
    role = Role.objects.create(name="fault_readers")
    permission, _ = Permission.objects.get_or_create(code="users.read")
    RolePermission.objects.create(role=role, permission=permission)
    RoleAssignment.objects.create(user=user, role=role)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    env = portal_env(tmp_path, DATABASE_URL=database_url(), CACHE_URL=dead)
    with (
        portal_processes(1, env=env, tmp=tmp_path) as (base,),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "degraded", "checks": {"database": True, "cache": False}}
        kept, revoked = (
            live_api_login(client, user.username, DEFAULT_PASSWORD).json(),
            live_api_login(client, user.email, DEFAULT_PASSWORD).json(),
        )
        as_user = {"Authorization": f"Bearer {kept['access_token']}"}
        assert client.get("/api/v1/users/", headers=as_user).status_code == 200
        as_other = _bearer_header_of(client, other)
        assert client.get("/api/v1/users/", headers=as_other).status_code == 403
        logout = client.post(
            "/api/v1/auth/logout/", json={"refresh_token": revoked["refresh_token"]}
        )
        assert logout.status_code == 204
        # The revoked sid could not be published to the cache: the session row refuses it.
        dead_token = {"Authorization": f"Bearer {revoked['access_token']}"}
        assert client.get("/api/v1/me/", headers=dead_token).status_code == 401
        assert client.get("/api/v1/me/", headers=as_user).status_code == 200
        assert client.get(reverse("accounts:login")).status_code == 200
        log = (tmp_path / "server-0.log").read_text()
    assert UserSession.objects.get(pk=_sid(revoked["access_token"])).revoked_at is not None
    warnings = re.findall(r"cache unavailable \(\w+ failed: \w+\); serving from the database", log)
    assert len(warnings) == 1, log[-3000:]  # once per interval, not once per request
    assert "Internal Server Error" not in log


class PrivateRedis:
    """A redis-server of this test's own (never the shared one), stopped and started again with
    its data, as a restart with persistence or a network partition leaves it."""

    def __init__(self, tmp: Path) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.skip("needs redis-server")
        self.dir, self.port = tmp / "redis", free_port()
        self.dir.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        self.process = subprocess.Popen(
            [self.binary, *options, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        """Saves the dataset, then exits: every entry comes back on start()."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(save=True)
        assert self.process is not None
        self.process.wait(timeout=10)

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def private_redis(tmp: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def _wait_cache_ready(client: httpx.Client) -> None:
    for _ in range(150):
        if client.get("/readyz").json()["checks"]["cache"]:
            return
        time.sleep(0.2)
    pytest.fail("the portal never saw the cache come back")


def test_revocations_during_a_redis_outage_hold_after_it(tmp_path: Path) -> None:
    """What was revoked while Redis was down stays refused once Redis is back with the entries
    it cached before the outage (a permission answer, a resolved OAuth token)."""
    admin, reader = UserFactory(superuser=True), UserFactory()
    role = Role.objects.create(name="outage_readers")
    permission, _ = Permission.objects.get_or_create(code="users.read")
    RolePermission.objects.create(role=role, permission=permission)
    RoleAssignment.objects.create(user=reader, role=role)
    rp = register(UserFactory())
    oauth = sign_in(Client(), rp, reader, scope="openid profile")["access_token"]
    with private_redis(tmp_path) as cache_server:
        env = portal_env(tmp_path, DATABASE_URL=database_url(), CACHE_URL=cache_server.url) | {
            "CACHE_SOCKET_TIMEOUT": "0.3"
        }
        with (
            portal_processes(1, env=env, tmp=tmp_path) as (base,),
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            as_admin = _bearer_header_of(client, admin)
            as_reader = _bearer_header_of(client, reader)
            as_oauth_client = {"Authorization": f"Bearer {oauth}"}
            revoke_role = f"/api/v1/users/{reader.public_id}/roles/{role.name}/"
            # Warm: the permission answer and the resolved OAuth token are cached now.
            assert client.get("/api/v1/users/", headers=as_reader).status_code == 200
            assert client.get("/o/userinfo/", headers=as_oauth_client).status_code == 200

            cache_server.stop()
            assert client.delete(revoke_role, headers=as_admin).status_code == 204
            revoked = client.post(
                "/o/revoke/",
                data={"token": oauth},
                headers={"Authorization": basic(rp.client_id, rp.secret)},
            )
            assert revoked.status_code == 200, revoked.text
            assert client.get("/api/v1/users/", headers=as_reader).status_code == 403
            assert client.get("/o/userinfo/", headers=as_oauth_client).status_code == 401

            cache_server.start()
            _wait_cache_ready(client)
            after = {
                "revoked role": client.get("/api/v1/users/", headers=as_reader).status_code,
                "revoked token": client.get("/o/userinfo/", headers=as_oauth_client).status_code,
                # Back on the cache, the portal still grants what was not revoked.
                "untouched admin": client.get("/api/v1/users/", headers=as_admin).status_code,
            }
            log = (tmp_path / "server-0.log").read_text()
    assert after == {"revoked role": 403, "revoked token": 401, "untouched admin": 200}
    assert "cache reachable again" in log, log[-3000:]
    assert "Internal Server Error" not in log


def _bearer_header_of(client: httpx.Client, user: User) -> dict[str, str]:
    access = live_api_tokens(client, user.username, DEFAULT_PASSWORD)["access_token"]
    return {"Authorization": f"Bearer {access}"}


def _sid(access_token: str) -> str:
    # The server signed it with its own key directory; only the claim is needed here.
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


# -- SMTP -------------------------------------------------------------------------------------


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for Django's backend: every message lands in ``received``."""

    received: list[str] = []

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = b"".join(iter(self.rfile.readline, b".\r\n"))
                self.received.append(body.decode(errors="replace"))
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            elif verb == b"EHLO":
                self.wfile.write(b"250 sink\r\n")
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def smtp_sink(port: int) -> Iterator[list[str]]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _SmtpSink)
    _SmtpSink.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _SmtpSink.received
    finally:
        server.shutdown()
        server.server_close()


def test_smtp_down_sign_up_succeeds_and_the_link_can_be_resent(tmp_path: Path) -> None:
    port = free_port()
    env = portal_env(tmp_path, DATABASE_URL=database_url(), EMAIL_URL=f"smtp://127.0.0.1:{port}")
    with (
        portal_processes(1, env=env, tmp=tmp_path) as (base,),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        body = {"username": "mailless", "email": "mailless@example.com", "password": NEW_PASSWORD}
        started = time.monotonic()
        signup = client.post("/api/v1/auth/signup/", json=body)
        assert signup.status_code == 201, signup.text
        assert time.monotonic() - started < SLOWEST_ALLOWED
        resend = {"email": "mailless@example.com"}
        assert client.post("/api/v1/auth/verify-email/resend/", json=resend).status_code == 202
        with smtp_sink(port) as received:
            assert client.post("/api/v1/auth/verify-email/resend/", json=resend).status_code == 202
        log = (tmp_path / "server-0.log").read_text()
    assert User.objects.filter(username="mailless", email_verified_at__isnull=True).exists()
    assert "email verify_email could not be sent" in log
    assert "Internal Server Error" not in log
    assert len(received) == 1
    assert "mailless" in received[0]
    assert re.search(r"/accounts/verify-email/[\w-]+/", received[0])
