"""The bench's OAuth code-flow figure: wrk completes whole flows (authorize with the browser's
cookie, exchange with the verifier) against a live portal, counts only those that end in
tokens with an id_token, and the report compares flows per core with Keycloak's figures."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from oauth2_provider.models import AccessToken, Grant

from bench import code_flow, load, report
from sso import services
from tests.bench.test_bench import _point, _results
from tests.factories import DEFAULT_PASSWORD
from tests.sso.conftest import REDIRECT_URI, basic, register

needs_wrk = pytest.mark.skipif(not load.wrk_path(), reason="wrk is not installed")


def _cast(app) -> dict:
    return {
        "web_client_id": app.client_id,
        "web_basic": basic(app.client_id, app.secret),
        "web_redirect_uri": REDIRECT_URI,
        "web_scope": "openid read",
    }


@pytest.fixture
def portal(live_server, settings) -> str:
    settings.PORTAL_URL = live_server.url
    return live_server.url


@pytest.fixture
def owner(user_factory):
    return user_factory()


@needs_wrk
@pytest.mark.django_db(transaction=True)
def test_wrk_completes_whole_flows_with_remembered_consent(portal, user, owner, tmp_path):
    app = register(owner)
    services.consent_grant(user=user, application=app.app, scopes=["openid", "read"])
    cookie = code_flow.browser_cookie(portal, user.username, DEFAULT_PASSWORD)
    cast = _cast(app)
    assert "id_token" in code_flow.one_flow(portal, cast, cookie)

    result = load.run(portal, code_flow.case(cast, cookie, 500, tmp_path), connections=2, seconds=1)

    assert result["completed"] > 0
    assert (result["failed"], result["errors"]) == (0, 0)
    # Two requests per flow; at most one authorization per connection is left unexchanged.
    assert 2 * result["completed"] <= result["requests"] <= 2 * result["completed"] + 2
    tokens = AccessToken.objects.filter(user=user, application=app.app, id_token__isnull=False)
    assert tokens.count() >= result["completed"] + 1  # the checked flow's too
    # Every code came from its own PKCE challenge, S256.
    grants = Grant.objects.filter(user=user, application=app.app)
    assert grants.values("code_challenge").distinct().count() == grants.count()
    assert set(grants.values_list("code_challenge_method", flat=True)) == {"S256"}


@needs_wrk
@pytest.mark.django_db(transaction=True)
def test_wrk_counts_no_flow_without_a_remembered_consent(portal, user, owner, tmp_path):
    """The consent page (200) is no code: every answer is rejected, and no token issued."""
    app = register(owner)
    cookie = code_flow.browser_cookie(portal, user.username, DEFAULT_PASSWORD)
    with pytest.raises(RuntimeError, match="authorize answered 200"):
        code_flow.one_flow(portal, _cast(app), cookie)

    case = code_flow.case(_cast(app), cookie, 500, tmp_path)
    result = load.run(portal, case, connections=2, seconds=1)

    assert result["completed"] == 0
    assert result["requests"] > 0
    assert result["failed"] == result["requests"]
    assert not AccessToken.objects.filter(user=user).exists()


@needs_wrk
@pytest.mark.django_db(transaction=True)
def test_wrk_counts_no_flow_for_a_browser_without_a_session(portal, user, owner, tmp_path):
    """Without the session cookie the portal sends the browser to its sign-in page."""
    app = register(owner)
    services.consent_grant(user=user, application=app.app, scopes=["openid", "read"])

    result = load.run(
        portal, code_flow.case(_cast(app), "", 500, tmp_path), connections=2, seconds=1
    )

    assert (result["completed"], result["failed"]) == (0, result["requests"])
    assert not Grant.objects.filter(user=user).exists()


def test_pkce_pairs_are_s256_and_each_flow_has_its_own(tmp_path):
    lines = Path(code_flow.write_pairs(50, tmp_path)).read_text()
    pairs = [line.split() for line in lines.splitlines()]
    assert len({challenge for _, challenge in pairs}) == 50
    for verifier, challenge in pairs:
        digest = hashlib.sha256(verifier.encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
        assert 43 <= len(verifier) <= 128  # RFC 7636 §4.1


def _flow(flows: int, worker_cpu_s: float) -> dict:
    return {**_point(100), "completed": flows, "ok": 2 * flows, "worker_cpu_s": worker_cpu_s}


def test_flow_figure_is_the_sample_with_the_median_flows_per_core():
    runs = [_flow(300, 1.0), _flow(200, 1.0), _flow(500, 2.0)]
    chosen = code_flow.summary(runs)
    assert chosen["completed"] == 500  # 250 per core: the middle of 300, 200 and 250
    assert chosen["per_core_samples"] == [300.0, 200.0, 250.0]
    assert chosen["flows_per_second"] == 250.0  # 500 flows in the point's 2 s


def test_report_compares_flows_per_core_with_keycloak_login_and_refresh_figures():
    results = _results()
    results["code_flow"] = {**_flow(300, 2.0), "per_core_samples": [140.0, 150.0, 160.0]}
    rows = [row for row in report.summary(results) if row["figure"].startswith("OAuth code flow")]
    login, refresh, with_db, whole = rows
    # 300 flows over 2.0 s of the workers' CPU: 150 per core, 10x Keycloak's 15 logins.
    assert (login["value"], login["ratio"], login["met"]) == ("150.0 [140 to 160]", "10.00", True)
    assert login["baseline"] == "Keycloak password-based logins /s per vCPU 15.0"
    assert (refresh["ratio"], refresh["met"]) == ("1.25", False)  # 150 / 120, goal 2
    assert with_db["value"] == round(300 / 2.25, 1)
    assert whole["value"] == 150.0  # flows, not requests, per second of the whole machine
    markdown = report.markdown(results, "stem")
    assert "| code flow (requests) | 600 |" in markdown
    older = [row for row in report.summary(_results()) if row["figure"].startswith("OAuth")]
    assert older == []
