"""OpenID Connect Back-Channel Logout 1.0: the application holding an ended sign-in's tokens is
sent a logout token it can verify against the portal's JWKS, and nobody else is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Channel, UserSession
from accounts.services import sessions
from identity.models import Delivery, Event
from identity.tasks import delivery_attempt
from sso import services
from sso.backchannel import (
    BACKCHANNEL_LOGOUT_EVENT,
    KIND,
    backchannel_logout_request,
    backchannel_logout_targets,
)
from tests.admin_forms import admin_change_form_post, form_data
from tests.factories import DEFAULT_PASSWORD
from tests.sso.conftest import authorize, exchange, pkce_pair, query, refresh, register, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings) -> None:
    # The receivers of these tests listen on 127.0.0.1.
    settings.WEBHOOK_ALLOW_PRIVATE = True


class _Captured:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []


@pytest.fixture
def receiver() -> Iterator[tuple[str, _Captured]]:
    """An application's back-channel logout endpoint on loopback that records each POST."""
    captured = _Captured()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            captured.requests.append((self.path, self.headers["content-type"], body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", captured
    server.shutdown()
    server.server_close()


def _app(owner, uri: str = "", **fields):
    return register(owner, backchannel_logout_uri=uri, **fields)


def _sid(tokens: dict) -> str:
    return jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]


def _deliveries(sid: str) -> list[tuple[str, str]]:
    rows = Delivery.objects.filter(event__type="session.revoked", event__sid=sid)
    return sorted(rows.values_list("kind", "target"))


# -- who is told --------------------------------------------------------------------------
def test_an_ended_oauth_sign_in_is_delivered_to_its_own_application_only(owner, user):
    told, other, silent = (
        _app(owner, "http://127.0.0.1:9/a"),
        _app(owner, "http://127.0.0.1:9/b"),
        _app(owner),
    )
    sids = {rp.client_id: _sid(sign_in(Client(), rp, user)) for rp in (told, other, silent)}

    sessions.sessions_revoke(sids=[sids[told.client_id], sids[silent.client_id]], reason="test")

    assert _deliveries(sids[told.client_id]) == [(KIND, told.client_id)]
    assert Delivery.objects.get(event__sid=sids[told.client_id]).url == "http://127.0.0.1:9/a"
    # An application without a URI is not told; one whose sign-in goes on is not either.
    assert _deliveries(sids[silent.client_id]) == []
    assert _deliveries(sids[other.client_id]) == []
    assert (
        Event.objects.get(type="session.revoked", sid=sids[silent.client_id]).client_id
        == silent.client_id
    )


def test_a_sign_in_revoked_twice_is_told_once(owner, user):
    rp = _app(owner, "http://127.0.0.1:9/a")
    sid = _sid(sign_in(Client(), rp, user))
    sessions.sessions_revoke(sids=[sid], reason="test")
    sessions.sessions_revoke(sids=[sid], reason="test")
    session = UserSession.objects.get(pk=sid)
    sessions.session_revoke(session=session, reason="again")
    assert Event.objects.filter(type="session.revoked", sid=sid).count() == 1
    assert len(_deliveries(sid)) == 1


def test_signing_out_of_the_portal_tells_every_application_that_browser_signed_in_to(owner, user):
    first, second = _app(owner, "http://127.0.0.1:9/a"), _app(owner, "http://127.0.0.1:9/b")
    browser = Client()
    browser.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    approved = [_sid(_authorized(browser, rp, user)) for rp in (first, second)]

    browser.post(reverse("accounts:logout"))

    for sid, rp in zip(approved, (first, second), strict=True):
        assert UserSession.objects.get(pk=sid).revoked_reason == "signed_out"
        assert _deliveries(sid) == [(KIND, rp.client_id)]


def _authorized(browser: Client, rp, user) -> dict:
    """An OAuth sign-in approved by the browser's own portal sign-in (no force_login)."""
    verifier, challenge = pkce_pair()
    response = authorize(browser, rp, challenge=challenge)
    assert response.status_code == 302, response.content
    tokens = exchange(browser, rp, query(response)["code"], verifier)
    assert tokens.status_code == 200, tokens.content
    return tokens.json()


def test_reusing_a_refresh_token_sends_one_logout_token(client, owner, user):
    rp = _app(owner, "http://127.0.0.1:9/a")
    tokens = sign_in(client, rp, user)
    sid = _sid(tokens)
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 400  # reused

    assert UserSession.objects.get(pk=sid).revoked_reason == "refresh_reuse"
    assert _deliveries(sid) == [(KIND, rp.client_id)]


def test_a_first_party_or_browser_sign_in_ending_costs_the_finder_no_query(
    user, django_assert_num_queries
):
    # Unsaved events, as events_record hands them to the finders.
    drafts = [
        Event(type="session.revoked", sid="x", data={"channel": Channel.BROWSER}),
        Event(type="session.revoked", sid="y", data={"channel": Channel.API}),
        Event(type="user.updated", data={}),
    ]
    with django_assert_num_queries(0):
        assert backchannel_logout_targets(drafts) == []


# -- the logout token ---------------------------------------------------------------------
def test_the_logout_token_verifies_against_the_jwks_with_every_required_claim(
    live_server, owner, user
):
    rp = _app(owner, "http://127.0.0.1:9/a")
    tokens = sign_in(Client(), rp, user)
    sessions.sessions_revoke(sids=[_sid(tokens)], reason="test")
    delivery = Delivery.objects.get(kind=KIND)

    request = backchannel_logout_request(delivery)
    token = parse_qs(request.body.decode())["logout_token"][0]
    jwks = jwt.PyJWKClient(live_server.url + reverse("jwks"))
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=rp.client_id,
        issuer=services.issuer(),
        options={"require": ["iss", "aud", "iat", "exp", "jti", "events"]},
    )

    assert jwt.get_unverified_header(token)["typ"] == "logout+jwt"
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert "nonce" not in claims
    assert 0 < claims["exp"] - claims["iat"] <= 120
    assert claims["sid"] == _sid(tokens)
    assert claims["sub"] == str(user.public_id)
    assert (
        claims["sub"] == jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"]
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # A fresh token at each try: a retry never sends an expired one or a replayed jti.
    again = parse_qs(backchannel_logout_request(delivery).body.decode())["logout_token"][0]
    assert jwt.decode(again, options={"verify_signature": False})["jti"] != claims["jti"]


def test_the_worker_posts_the_logout_token_form_encoded(owner, user, receiver):
    url, captured = receiver
    rp = _app(owner, f"{url}/backchannel-logout")
    sessions.sessions_revoke(sids=[_sid(sign_in(Client(), rp, user))], reason="test")
    delivery = Delivery.objects.get(kind=KIND)

    assert delivery_attempt.call(delivery.pk, 0) == Delivery.Status.SUCCEEDED

    [(path, content_type, body)] = captured.requests
    assert path == "/backchannel-logout"
    assert content_type == "application/x-www-form-urlencoded"
    assert list(parse_qs(body.decode())) == ["logout_token"]


@pytest.mark.parametrize("change", ["deleted", "uri_removed"])
def test_a_delivery_to_an_application_gone_since_ends_failed_without_a_retry(
    change, owner, user, receiver
):
    url, captured = receiver
    rp = _app(owner, f"{url}/backchannel-logout")
    sessions.sessions_revoke(sids=[_sid(sign_in(Client(), rp, user))], reason="test")
    delivery = Delivery.objects.get(kind=KIND)
    if change == "deleted":
        services.application_delete(application=rp.app)
    else:
        services.application_update(application=rp.app, backchannel_logout_uri="")

    assert delivery_attempt.call(delivery.pk, 0) == Delivery.Status.FAILED

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("cancelled:")
    assert captured.requests == []


# -- registering the URI --------------------------------------------------------------------
def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_api_round_trips_the_back_channel_fields(owner):
    api = _api(owner)
    created = api.post(
        reverse("api:sso:applications"),
        {
            "name": "Shop",
            "client_type": "confidential",
            "redirect_uris": ["https://shop.example/cb"],
            "backchannel_logout_uri": "http://127.0.0.1:8001/backchannel-logout",
            "backchannel_logout_session_required": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["backchannel_logout_uri"] == "http://127.0.0.1:8001/backchannel-logout"
    assert body["backchannel_logout_session_required"] is True
    link = reverse("api:sso:application", args=[body["client_id"]])
    patched = api.patch(link, {"backchannel_logout_uri": ""}, format="json")
    assert patched.status_code == 200, patched.content
    assert api.get(link).json()["backchannel_logout_uri"] == ""


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8001/backchannel-logout",  # loopback
        "https://10.0.0.5/logout",  # private
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "https://[::ffff:127.0.0.1]/logout",  # loopback mapped into IPv6
        "https://user:pw@8.8.8.8/logout",  # credentials in the URL
        "http://8.8.8.8/logout",  # public, but not https
        "https://8.8.8.8/logout#frag",  # a fragment (§2.2)
    ],
)
def test_a_back_channel_uri_into_the_portals_network_is_refused_with_the_problem_shape(
    uri, owner, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    rp = _app(owner)
    response = _api(owner).patch(
        reverse("api:sso:application", args=[rp.client_id]),
        {"backchannel_logout_uri": uri},
        format="json",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert [error["field"] for error in body["errors"]] == ["backchannel_logout_uri"]
    rp.app.refresh_from_db()
    assert rp.app.backchannel_logout_uri == ""


def test_a_public_https_back_channel_uri_is_accepted_without_the_private_allowance(owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    rp = _app(owner)
    response = _api(owner).patch(
        reverse("api:sso:application", args=[rp.client_id]),
        {"backchannel_logout_uri": "https://8.8.8.8/backchannel"},
        format="json",
    )
    assert response.status_code == 200, response.content


def test_another_users_application_back_channel_uri_cannot_be_changed(owner, user):
    rp = _app(owner, "http://127.0.0.1:9/a")
    attacker = Client()
    attacker.force_login(user)
    page = attacker.post(
        reverse("sso:app_update", args=[rp.client_id]),
        {"name": "Mine", "backchannel_logout_uri": "http://127.0.0.1:9/stolen"},
    )
    api = _api(user).patch(
        reverse("api:sso:application", args=[rp.client_id]),
        {"backchannel_logout_uri": "http://127.0.0.1:9/stolen"},
        format="json",
    )
    assert page.status_code == 404
    assert api.status_code == 404
    rp.app.refresh_from_db()
    assert rp.app.backchannel_logout_uri == "http://127.0.0.1:9/a"


def test_the_developer_page_saves_and_shows_the_back_channel_fields(client, owner):
    rp = _app(owner)
    client.force_login(owner)
    response = client.post(
        reverse("sso:app_update", args=[rp.client_id]),
        {
            "name": rp.app.name,
            "redirect_uris": rp.app.redirect_uris,
            "allowed_scopes": ["openid"],
            "backchannel_logout_uri": "http://127.0.0.1:8001/backchannel-logout",
            "backchannel_logout_session_required": "on",
        },
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    rp.app.refresh_from_db()
    assert rp.app.backchannel_logout_uri == "http://127.0.0.1:8001/backchannel-logout"
    assert rp.app.backchannel_logout_session_required is True
    detail = client.get(reverse("sso:app_detail", args=[rp.client_id]))
    assert b"http://127.0.0.1:8001/backchannel-logout" in detail.content
    form = client.get(reverse("sso:app_update", args=[rp.client_id])).context["form"]
    assert form.initial["backchannel_logout_uri"] == "http://127.0.0.1:8001/backchannel-logout"


def test_the_developer_page_refuses_a_private_uri(client, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    rp = _app(owner)
    client.force_login(owner)
    response = client.post(
        reverse("sso:app_update", args=[rp.client_id]),
        {
            "name": rp.app.name,
            "redirect_uris": rp.app.redirect_uris,
            "allowed_scopes": ["openid"],
            "backchannel_logout_uri": "https://10.1.2.3/logout",
        },
    )
    assert response.status_code == 200
    assert "backchannel_logout_uri" in response.context["form"].errors


def test_discovery_advertises_back_channel_logout_with_sid(client):
    body = client.get(reverse("openid_configuration")).json()
    assert body["backchannel_logout_supported"] is True
    assert body["backchannel_logout_session_supported"] is True


def test_the_admin_saves_the_back_channel_fields_and_refuses_a_private_uri(
    admin_client, owner, settings
):
    rp = _app(owner)
    change = "admin:sso_application_change"
    admin_change_form_post(
        admin_client,
        change,
        rp.app,
        backchannel_logout_uri="http://127.0.0.1:9/logout",
        backchannel_logout_session_required=True,
    )
    rp.app.refresh_from_db()
    assert rp.app.backchannel_logout_uri == "http://127.0.0.1:9/logout"
    assert rp.app.backchannel_logout_session_required is True

    settings.WEBHOOK_ALLOW_PRIVATE = False
    page = admin_client.get(reverse(change, args=[rp.app.pk]))
    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    data["backchannel_logout_uri"] = "https://169.254.169.254/latest"
    response = admin_client.post(reverse(change, args=[rp.app.pk]), data)
    assert response.status_code == 200
    assert "backchannel_logout_uri" in response.context["adminform"].form.errors
    rp.app.refresh_from_db()
    assert rp.app.backchannel_logout_uri == "http://127.0.0.1:9/logout"
