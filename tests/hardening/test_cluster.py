"""Three production-profile nodes behind HAProxy (tests/hardening/cluster.py) under the soak
workload: a node killed mid-load, a rolling restart, and one truth across nodes.

Each test prints its numbers; the last prints the summary line the release notes quote.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
import redis

from tests.hardening import soak
from tests.hardening.cluster import Cluster, fresh_database, haproxy_binary, node_env
from tests.processes import database_url, live_api_tokens, redis_or_skip

# 1 worker per node: three nodes already share the 2 cores of a CI machine.
CLIENTS = int(os.environ.get("CLUSTER_CLIENTS", "6"))
WARM_UP_REQUESTS = 40
NUMBERS: dict[str, object] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    if haproxy_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("HAProxy is required in CI (.ci/run installs Debian's haproxy)")
        pytest.skip("no haproxy: `make cluster` installs it")
    cache_url = redis_or_skip()
    redis.Redis.from_url(cache_url).flushdb()
    tmp = tmp_path_factory.mktemp("cluster")
    with fresh_database(database_url(), f"identity_cluster_{os.getpid()}") as url:
        env = node_env(
            database_url=url, cache_url=cache_url, portal_url="http://127.0.0.1", tmp=tmp
        )
        with Cluster(env, tmp) as running:
            yield running


@pytest.fixture(scope="module")
def fixture(cluster: Cluster) -> soak.Fixture:
    return soak.seed(cluster.env["DATABASE_URL"], cluster.env, staff=False)


def _warm(load: soak.Load, requests: int = WARM_UP_REQUESTS, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while load.out.requests < requests:
        assert time.monotonic() < deadline, f"the load did not get going: {load.out.statuses}"
        time.sleep(0.1)


def _statuses(out: soak.Outcome) -> dict[int, int]:
    by_status: Counter[int] = Counter()
    for (_, status), count in out.statuses.items():
        by_status[status] += count
    return dict(sorted(by_status.items()))


# Rows that only a write cut in half could leave: the schema allows each of them.
HALF_WRITES = {
    "users without a profile": (
        "SELECT count(*) FROM accounts_user u"
        " LEFT JOIN accounts_profile p ON p.user_id = u.id WHERE p.id IS NULL"
    ),
    "API sign-ins without their success event": (
        "SELECT count(*) FROM accounts_usersession s WHERE s.channel = 'api' AND NOT EXISTS"
        " (SELECT 1 FROM accounts_loginevent e WHERE e.user_id = s.user_id"
        "  AND e.outcome = 'success')"
    ),
    "live API sign-ins without a refresh token": (
        "SELECT count(*) FROM accounts_usersession WHERE channel = 'api'"
        " AND revoked_at IS NULL AND refresh_jti = ''"
    ),
}


def _half_writes(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in HALF_WRITES.items()}


def _served(cluster: Cluster) -> dict[str, int]:
    """Connections HAProxy has sent each node so far (its stot counter)."""
    return {name: int(row["stot"]) for name, row in cluster.servers().items()}


def test_a_node_killed_mid_load_loses_only_its_requests_in_flight(
    cluster: Cluster, fixture: soak.Fixture
) -> None:
    victim = cluster.nodes[0]
    load = soak.Load(cluster.url, fixture, clients=CLIENTS)
    try:
        _warm(load)
        assert _served(cluster)[victim.name] > 0  # it had its share of the load
        cluster.kill(victim)
        at_kill = load.out.requests
        taken_out = cluster.wait_server(victim.name, "DOWN", timeout=10)
        time.sleep(3)  # the survivors carry the load
    finally:
        out = load.stop()
        cluster.start(victim)  # back for the tests after this one
        cluster.wait_server(victim.name, "UP")
    after_kill = out.requests - at_kill
    NUMBERS["kill"] = (out.requests, out.failures)
    print(
        f"\nkill -9 of {victim.name}: {out.requests} requests ({after_kill} after the kill), "
        f"{out.failures} failed ({len(out.server_errors)} 5xx, {len(out.transport_errors)} "
        f"without response: {sorted({e.split(':')[0] for e in out.transport_errors})}), "
        f"HAProxy took it out in {taken_out:.2f}s, statuses {_statuses(out)}"
    )
    # At most one request per client can have been on the dead node when it died.
    assert out.failures <= CLIENTS, out.server_errors + out.transport_errors
    assert after_kill > 0
    assert soak.missing_sign_ups(cluster.env["DATABASE_URL"], out.signed_up) == []
    assert _half_writes(cluster.env["DATABASE_URL"]) == dict.fromkeys(HALF_WRITES, 0)


def test_a_rolling_restart_under_load_fails_no_request(
    cluster: Cluster, fixture: soak.Fixture
) -> None:
    # The release first: migrations that the running code and the next release both accept.
    cluster.release()
    load = soak.Load(cluster.url, fixture, clients=CLIENTS)
    try:
        _warm(load)
        back: dict[str, int] = {}
        for node in cluster.nodes:
            cluster.drain(node)
            assert cluster.stop(node) == 0, node.log.read_text()[-2000:]
            # Same code here; it stands for the next (migration-compatible) release.
            cluster.start(node)
            cluster.ready(node)
            back[node.name] = _served(cluster)[node.name]
        time.sleep(2)  # the last node back takes its share too
    finally:
        out = load.stop()
    served_since = {name: _served(cluster)[name] - count for name, count in back.items()}
    NUMBERS["restart"] = (out.requests, out.failures)
    print(
        f"\nrolling restart of {len(cluster.nodes)} nodes: {out.requests} requests, "
        f"{out.failures} failed, statuses {_statuses(out)}, "
        f"connections each node took after its restart {served_since}"
    )
    assert out.failures == 0, out.server_errors + out.transport_errors
    assert all(count > 0 for count in served_since.values()), served_since
    assert soak.missing_sign_ups(cluster.env["DATABASE_URL"], out.signed_up) == []


def _sign_up(url: str) -> tuple[str, str]:
    name = f"truth{secrets.token_hex(4)}"
    body = {"username": name, "email": f"{name}@example.com", "password": soak.PASSWORD}
    response = httpx.post(f"{url}/api/v1/auth/signup/", json=body)
    assert response.status_code == 201, response.text
    return name, soak.PASSWORD


def _auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def _jwks_kids(url: str) -> set[str]:
    return {key["kid"] for key in httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]}


def test_a_sign_in_revoked_on_one_node_is_refused_on_the_others_at_once(
    cluster: Cluster,
) -> None:
    a, b, c = (node.url for node in cluster.nodes)
    tokens = live_api_tokens(a, *_sign_up(a))
    access = _auth_header(tokens["access_token"])
    for url in (b, c):  # each node now remembers the token as valid
        assert httpx.get(f"{url}/api/v1/me/", headers=access).status_code == 200

    logout = httpx.post(f"{a}/api/v1/auth/logout/", json={"refresh_token": tokens["refresh_token"]})
    assert logout.status_code == 204

    accepted_after_revocation = 0
    for url in (b, c):
        response = httpx.get(f"{url}/api/v1/me/", headers=access)
        accepted_after_revocation += response.status_code == 200
        assert response.status_code == 401, (url, response.text)
    NUMBERS["revocation"] = accepted_after_revocation
    print(f"\nrevocation through node1: {accepted_after_revocation} requests accepted after it")


def _oauth_access_token(url: str, fixture: soak.Fixture, login: str, password: str) -> str:
    """The authorization-code flow with PKCE through one node's pages: its access token."""
    with httpx.Client(base_url=url) as browser:
        browser.get("/accounts/login/")
        form = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
        form |= {"username": login, "password": password}
        browser.post("/accounts/login/", data=form, headers={"Referer": f"{url}/accounts/login/"})
        verifier, challenge = soak.pkce()
        params = {
            "response_type": "code",
            "client_id": fixture.client_id,
            "redirect_uri": soak.REDIRECT_URI,
            "scope": "openid read",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        location = browser.get("/o/authorize/", params=params).headers["location"]
        data = {
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(location).query)["code"][0],
            "redirect_uri": soak.REDIRECT_URI,
            "code_verifier": verifier,
        }
        auth = (fixture.client_id, fixture.client_secret)
        response = browser.post("/o/token/", data=data, auth=auth)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def test_an_oauth_token_revoked_on_one_node_is_refused_on_the_others_at_once(
    cluster: Cluster, fixture: soak.Fixture
) -> None:
    a, b, c = (node.url for node in cluster.nodes)
    token = _oauth_access_token(a, fixture, *_sign_up(a))
    access = _auth_header(token)
    for url in (b, c):  # each node now holds the token in its cache
        assert httpx.get(f"{url}/api/v1/me/", headers=access).status_code == 200

    auth = (fixture.client_id, fixture.client_secret)
    revoked = httpx.post(f"{a}/o/revoke/", data={"token": token}, auth=auth)
    assert revoked.status_code == 200, revoked.text

    for url in (b, c):
        response = httpx.get(f"{url}/api/v1/me/", headers=access)
        assert response.status_code == 401, (url, response.text)


def test_a_role_granted_on_one_node_is_honoured_on_another_at_once(
    cluster: Cluster, fixture: soak.Fixture
) -> None:
    _, b, c = (node.url for node in cluster.nodes)
    admin = _auth_header(live_api_tokens(b, fixture.admin_login, soak.PASSWORD)["access_token"])
    user = _auth_header(live_api_tokens(c, *_sign_up(c))["access_token"])
    tag = secrets.token_hex(3)
    code, role = f"probe.read_{tag}", f"prober-{tag}"
    check = {"permission": code}
    created = httpx.post(f"{b}/api/v1/permissions/", json={"code": code}, headers=admin)
    assert created.status_code == 201, created.text
    body = {"name": role, "permissions": [code]}
    created = httpx.post(f"{b}/api/v1/roles/", json=body, headers=admin)
    assert created.status_code == 201, created.text
    # C asks first, so it holds the answer "no" in its caches.
    assert httpx.post(f"{c}/api/v1/authz/check/", json=check, headers=user).status_code == 403

    public_id = httpx.get(f"{c}/api/v1/me/", headers=user).json()["public_id"]
    grant = httpx.post(f"{b}/api/v1/users/{public_id}/roles/", json={"role": role}, headers=admin)
    assert grant.status_code == 201, grant.text

    allowed = httpx.post(f"{c}/api/v1/authz/check/", json=check, headers=user)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["granted_by"] == [role]


def _json_lines_with(cluster: Cluster, request_id: str) -> list[dict]:
    found = []
    for node in cluster.nodes:
        for line in node.log.read_text(errors="replace").splitlines():
            if request_id in line:
                found.append({**json.loads(line), "node": node.name})
    return found


def test_a_request_through_the_load_balancer_is_logged_once_with_its_request_id(
    cluster: Cluster,
) -> None:
    """HAProxy gives each request an id (unless the client sent one); the node that served it
    echoes it and writes one JSON line with it, and counts the request in its /metrics."""
    response = httpx.get(f"{cluster.url}/api/v1/me/")  # no token: 401
    assert response.status_code == 401
    request_id = response.headers["X-Request-ID"]
    deadline, lines = time.monotonic() + 5, []
    while time.monotonic() < deadline and not lines:
        lines = [line for line in _json_lines_with(cluster, request_id) if "route" in line]
        time.sleep(0.1)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["request_id"] == request_id
    assert (line["method"], line["status"]) == ("GET", 401)
    assert line["client_ip"] == "127.0.0.1"  # from HAProxy's X-Forwarded-For, a trusted proxy
    served = next(node for node in cluster.nodes if node.name == line["node"])
    metrics = httpx.get(f"{served.url}/metrics")  # loopback: in METRICS_ALLOWED_IPS
    assert metrics.status_code == 200
    assert 'identity_http_requests_total{method="GET",route="' in metrics.text

    # An id the client (or an outer proxy) sent is kept end to end.
    given = f"trace-{secrets.token_hex(8)}"
    echoed = httpx.get(f"{cluster.url}/healthz", headers={"X-Request-ID": given})
    assert echoed.headers["X-Request-ID"] == given


def test_a_key_rotated_on_one_node_signs_tokens_every_node_accepts_and_publishes(
    cluster: Cluster,
) -> None:
    a, b, c = (node.url for node in cluster.nodes)
    credentials = _sign_up(c)
    before = _jwks_kids(a)
    cluster.manage("rotate_signing_key")  # run with C's environment, as an operator on C would
    rotated = time.monotonic()

    deadline = rotated + 5
    while _kid(token := live_api_tokens(c, *credentials)["access_token"]) in before:
        assert time.monotonic() < deadline, "C still signs with the old key"
        time.sleep(0.2)
    kid = _kid(token)
    for url in (a, b):
        while kid not in _jwks_kids(url):
            assert time.monotonic() < deadline, f"{url} does not publish {kid}"
            time.sleep(0.1)
        response = httpx.get(f"{url}/api/v1/me/", headers=_auth_header(token))
        assert response.status_code == 200, (url, response.text)
    seen = time.monotonic() - rotated
    NUMBERS["rotation"] = seen
    kill_requests, kill_failures = NUMBERS.get("kill", ("?", "?"))
    restart_requests, restart_failures = NUMBERS.get("restart", ("?", "?"))
    print(
        f"\nkey rotated through node3: every node publishes and accepts it after {seen:.2f}s"
        f"\ncluster summary: kill -9 {kill_requests} requests / {kill_failures} failed; "
        f"rolling restart {restart_requests} requests / {restart_failures} failed; "
        f"revocation seen by the other nodes after {NUMBERS.get('revocation', '?')} requests; "
        f"key rotation everywhere in {seen:.2f}s"
    )
