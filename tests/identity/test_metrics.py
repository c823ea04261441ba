"""/metrics: the Prometheus text format, who may read it, and the counters that sign-ins, lockouts,
token grants, revocations, second factors, the cache and the database move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.services.mfa import passkeys
from identity import cache as guarded_cache
from identity import metrics
from identity.events import DeliveryTarget, event_record
from identity.models import Delivery
from tests.mfa import totp_fresh_code
from tests.passkeys import authenticator_new, passkey_enrol
from tests.security.conftest import fresh_ip
from tests.sso.conftest import register
from tests.sso.conftest import sign_in as oauth_sign_in

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scraper-token-7Qx"


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample /metrics serves to a loopback client: {(name, sorted labels): value}."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def moved() -> Callable[..., Callable[[], float]]:
    """``moved(name, **labels)`` remembers the sample now; calling the result says by how much
    it has grown since (the registry lives as long as the process: tests compare)."""

    def remember(name: str, **labels: str) -> Callable[[], float]:
        before = value(scrape(), name, **labels)
        return lambda: value(scrape(), name, **labels) - before

    return remember


# -- who may read it ------------------------------------------------------------------------


def test_metrics_answer_loopback_by_default() -> None:
    scrape(Client(REMOTE_ADDR="127.0.0.1"))
    samples = scrape(Client(REMOTE_ADDR="127.0.0.1"))
    assert value(
        samples, "identity_http_requests_total", route="/metrics", method="GET", status="2xx"
    )


@pytest.mark.parametrize(
    ("allowed", "remote", "status"),
    [
        (["127.0.0.1", "::1"], "::1", 200),
        (["10.20.0.0/16"], "10.20.3.4", 200),
        (["10.20.0.0/16"], "10.21.3.4", 404),
        (["127.0.0.1"], "192.0.2.10", 404),
    ],
)
def test_metrics_answer_only_allowed_addresses(settings, allowed, remote, status) -> None:
    settings.METRICS_ALLOWED_IPS = allowed
    assert Client(REMOTE_ADDR=remote).get("/metrics").status_code == status


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
        (f"Bearer {TOKEN}x", 404),
        (f"Bearer {TOKEN[:-1]}", 404),
        (f"Basic {TOKEN}", 404),
        ("Bearer ", 404),
        (None, 404),
    ],
)
def test_metrics_token_lets_a_scraper_in_from_anywhere(settings, header, status) -> None:
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    assert Client(REMOTE_ADDR="192.0.2.10").get("/metrics", **headers).status_code == status


def test_metrics_empty_token_setting_lets_no_bearer_in(settings) -> None:
    settings.METRICS_TOKEN = ""
    response = Client(REMOTE_ADDR="192.0.2.10").get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_metrics_refuse_a_forwarded_for_from_an_untrusted_peer(settings) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    spoofed = Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.get("/metrics").status_code == 404
    # Through the trusted proxy, the client it names is the one that counts.
    proxied = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert proxied.get("/metrics").status_code == 200
    outside = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 192.0.2.10")
    assert outside.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "header",
    ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"],
)
def test_metrics_refuse_whoever_a_local_unlisted_proxy_relays(settings, header) -> None:
    # A load balancer on the node's own host, missing from TRUSTED_PROXIES: its peer address
    # is loopback whoever the client is.
    settings.TRUSTED_PROXIES = []
    relayed = Client(REMOTE_ADDR="127.0.0.1", **{header: "198.51.100.9"})
    assert relayed.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    scraper = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_off_is_a_404_and_records_nothing(settings, user, api_tokens) -> None:
    before = value(scrape(), "identity_sign_ins_total", channel="api", outcome="success")
    settings.METRICS_ENABLED = False
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404
    api_tokens(user)
    settings.METRICS_ENABLED = True
    after = value(scrape(), "identity_sign_ins_total", channel="api", outcome="success")
    assert after == before


def test_metrics_refusal_looks_like_any_unknown_page() -> None:
    refused = Client(REMOTE_ADDR="192.0.2.10").get("/metrics")
    unknown = Client(REMOTE_ADDR="192.0.2.10").get("/no-such-page")
    assert refused.status_code == unknown.status_code == 404
    assert refused["Content-Type"] == unknown["Content-Type"]


# -- what moves the counters --------------------------------------------------------------


def test_requests_are_counted_by_route_pattern_not_path(moved, user, user_api) -> None:
    me = moved("identity_http_requests_total", route="/api/v1/me/", method="GET", status="2xx")
    lost = moved("identity_http_requests_total", route="unmatched", method="other", status="4xx")
    assert user_api.get(reverse("api:accounts:me")).status_code == 200
    Client().generic("BREW", "/no/such/42/")
    assert me() == 1
    assert lost() == 1
    samples = scrape()
    routes = {dict(labels).get("route") for name, labels in samples if "route" in dict(labels)}
    assert "/api/v1/me/" in routes
    assert not any("42" in route for route in routes)
    assert value(samples, "identity_http_request_duration_seconds_count", route="/api/v1/me/") > 0


def test_sign_ins_are_counted_by_channel_and_outcome(moved, user, password) -> None:
    api_ok = moved("identity_sign_ins_total", channel="api", outcome="success")
    api_bad = moved("identity_sign_ins_total", channel="api", outcome="bad_credentials")
    page_bad = moved("identity_sign_ins_total", channel="browser", outcome="bad_credentials")
    page_ok = moved("identity_sign_ins_total", channel="browser", outcome="success")
    api = APIClient(REMOTE_ADDR=fresh_ip())
    login = reverse("api:accounts:login")
    assert api.post(login, {"login": user.username, "password": "wrong"}, format="json").status_code
    assert (
        api.post(login, {"login": user.username, "password": password}, format="json").status_code
        == 200
    )
    page = Client(REMOTE_ADDR=fresh_ip())
    page.post(reverse("accounts:login"), {"username": user.username, "password": "wrong"})
    page.post(reverse("accounts:login"), {"username": user.username, "password": password})
    assert (api_ok(), api_bad(), page_bad(), page_ok()) == (1, 1, 1, 1)


def test_a_lockout_is_counted_once_when_the_limit_is_crossed(moved, settings, user) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    lockouts = moved("identity_lockouts_total")
    locked = moved("identity_sign_ins_total", channel="api", outcome="locked_out")
    api = APIClient(REMOTE_ADDR=fresh_ip())
    for _ in range(5):
        api.post(
            reverse("api:accounts:login"), {"login": user.username, "password": "no"}, format="json"
        )
    assert lockouts() == 1
    assert locked() == 3  # the failure that locked, and the two refused while locked


def test_token_grants_are_counted_by_type(moved, user, api_tokens, user_factory) -> None:
    first = moved("identity_token_grants_total", issuer="first_party", grant_type="sign_in")
    rotated = moved("identity_token_grants_total", issuer="first_party", grant_type="refresh_token")
    code = moved("identity_token_grants_total", issuer="oauth", grant_type="authorization_code")
    tokens = api_tokens(user)
    APIClient().post(
        reverse("api:accounts:refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    oauth_sign_in(Client(), register(user_factory()), user)
    assert (first(), rotated(), code()) == (1, 1, 1)


def test_revocations_count_the_sign_ins_that_ended(moved, user, api_tokens) -> None:
    revoked = moved("identity_sessions_revoked_total")
    tokens = [api_tokens(user) for _ in range(2)]
    signed_in = APIClient()
    signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[0]['access_token']}")
    # Sign out everywhere else: the second sign-in ends; then log out the first.
    response = signed_in.post(reverse("api:accounts:me_sessions_revoke_others"))
    assert response.status_code in (200, 204), response.content
    APIClient().post(
        reverse("api:accounts:logout"), {"refresh_token": tokens[0]["refresh_token"]}, format="json"
    )
    assert revoked() == 2


def test_second_factor_outcomes_are_counted_by_method(moved, totp_user, password) -> None:
    user, app = totp_user
    failed = moved("identity_mfa_verifications_total", method="totp", outcome="failure")
    proven = moved("identity_mfa_verifications_total", method="totp", outcome="success")
    step = moved("identity_sign_ins_total", channel="api", outcome="mfa_required")
    api = APIClient(REMOTE_ADDR=fresh_ip())
    answer = api.post(
        reverse("api:accounts:login"), {"login": user.username, "password": password}, format="json"
    )
    token = answer.json()["mfa_token"]
    mfa = reverse("api:accounts:login_mfa")
    wrong = "000000" if totp_fresh_code(app) != "000000" else "111111"
    api.post(mfa, {"mfa_token": token, "method": "totp", "code": wrong}, format="json")
    right = {"mfa_token": token, "method": "totp", "code": totp_fresh_code(app)}
    response = api.post(mfa, right, format="json")
    assert response.status_code == 200, response.content
    assert (step(), failed(), proven()) == (1, 1, 1)


def test_passkey_sign_ins_are_counted_as_webauthn_proofs(moved, user) -> None:
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    failed = moved("identity_mfa_verifications_total", method="webauthn", outcome="failure")
    proven = moved("identity_mfa_verifications_total", method="webauthn", outcome="success")
    signed_in = moved("identity_sign_ins_total", channel="api", outcome="success")
    api, url = APIClient(REMOTE_ADDR=fresh_ip()), reverse("api:accounts:passkey")
    unissued = authenticator.get({"challenge": "bm90LWlzc3VlZA"})
    assert api.post(url, {"credential": unissued}, format="json").status_code == 400
    answer = authenticator.get(passkeys.passkey_sign_in_options())
    assert api.post(url, {"credential": answer}, format="json").status_code == 200
    assert (failed(), proven(), signed_in()) == (1, 1, 1)


def test_cache_outage_sets_the_gauge_and_counts_fallbacks(moved) -> None:
    fallbacks = moved("identity_cache_fallbacks_total")

    def unreachable() -> Any:
        raise ConnectionError("cache down")

    assert guarded_cache.guarded("get", unreachable) is guarded_cache.CACHE_DOWN
    assert value(scrape(), "identity_cache_down") == 1
    guarded_cache.guarded("get", lambda: cache.get("anything"))
    assert value(scrape(), "identity_cache_down") == 0
    assert fallbacks() == 1


def test_database_errors_are_counted(moved, monkeypatch) -> None:
    from django.db import OperationalError

    from identity import views

    errors = moved("identity_database_errors_total")

    def broken() -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", broken)
    assert Client().get(reverse("readyz")).status_code == 503
    monkeypatch.undo()
    assert errors() == 1


def test_requests_that_lose_the_database_are_counted(moved, monkeypatch, user, user_api) -> None:
    from django.db import OperationalError

    from accounts.api.views.me import MeApi
    from accounts.views.sessions import SessionsView

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    errors = moved("identity_database_errors_total")
    monkeypatch.setattr(MeApi, "get", lost)
    monkeypatch.setattr(SessionsView, "get_queryset", lost)
    user_api.raise_request_exception = False  # the 503 problem, as a client sees it
    assert user_api.get(reverse("api:accounts:me")).status_code == 503
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    assert browser.get(reverse("accounts:sessions")).status_code == 503
    monkeypatch.undo()
    assert errors() == 2


def test_every_metric_is_named_for_the_portal() -> None:
    names = {family.name for family in text_string_to_metric_families(_exposition())}
    portal = {name for name in names if name.startswith("identity_")}
    assert {
        "identity_http_requests",
        "identity_http_request_duration_seconds",
        "identity_sign_ins",
        "identity_lockouts",
        "identity_token_grants",
        "identity_sessions_revoked",
        "identity_mfa_verifications",
        "identity_cache_down",
        "identity_cache_fallbacks",
        "identity_database_errors",
        "identity_deliveries_pending",
        "identity_delivery_oldest_pending_seconds",
    } <= portal


def test_the_delivery_backlog_shows_pending_deliveries_and_the_age_of_the_oldest() -> None:
    assert value(scrape(), "identity_deliveries_pending") == 0
    assert value(scrape(), "identity_delivery_oldest_pending_seconds") == 0
    target = DeliveryTarget(kind="test", target="receiver", url="https://hooks.example/in")
    first = event_record("user.created", data={}, deliveries=[target]).deliveries.get()
    Delivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=2))
    event_record("user.updated", data={}, deliveries=[target])
    done = event_record("user.deleted", data={}, deliveries=[target]).deliveries.get()
    Delivery.objects.filter(pk=done.pk).update(status=Delivery.Status.SUCCEEDED)

    samples = scrape()

    assert value(samples, "identity_deliveries_pending") == 2
    assert 7190 < value(samples, "identity_delivery_oldest_pending_seconds") < 7300


def _exposition() -> str:
    return metrics.exposition()[0].decode()
