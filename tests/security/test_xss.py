"""Stored XSS: names, addresses, user agents and application names with markup are shown
escaped in pages, the admin and emails (ASVS 4.0.3 V5.3.3 / 5.0 V1.2.1, V1.3.x)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Profile
from sso import services as sso_services
from sso.models import Consent
from tests.sso.conftest import authorize_page, pkce_pair, register

pytestmark = pytest.mark.django_db

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
RAW_MARKERS = ["<script>alert(1)", "<img src=x", "onerror=alert(1)>"]


def assert_escaped(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: unescaped {marker!r}"


@pytest.fixture(params=PAYLOADS)
def payload(request) -> str:
    return request.param


@pytest.fixture
def victim(user, payload):
    Profile.objects.filter(user=user).update(first_name=payload, last_name=payload, address=payload)
    user.refresh_from_db()
    return user


@pytest.fixture
def evil_app(owner, payload):
    return register(owner, name=f"App {payload}"[:255], description=payload)


def test_user_pages_escape_stored_markup(client, victim, evil_app, payload):
    client.force_login(victim)
    Consent.objects.create(user=victim, application=evil_app.app, scope="openid")
    client.get(reverse("home"), HTTP_USER_AGENT=payload)
    for name in (
        "home",
        "accounts:profile",
        "accounts:sessions",
        "accounts:history",
        "sso:connected_apps",
    ):
        response = client.get(reverse(name), HTTP_USER_AGENT=payload)
        assert response.status_code == 200, name
        assert_escaped(response.content.decode(), name)
    assert "&lt;" in client.get(reverse("accounts:profile")).content.decode()


def test_consent_page_escapes_the_application(client, user, evil_app):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize_page(client, evil_app.client_id, challenge=challenge, scope="openid")
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;" in html or "&quot;" in html
    assert_escaped(html, "consent")


def test_developer_pages_escape_the_application(client, owner, evil_app):
    client.force_login(owner)
    for url in (
        reverse("sso:app_list"),
        reverse("sso:app_detail", args=[evil_app.client_id]),
        reverse("sso:app_update", args=[evil_app.client_id]),
        reverse("sso:app_delete", args=[evil_app.client_id]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode(), url)


def test_admin_pages_escape_stored_markup(admin_client, victim, evil_app):
    for url in (
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[victim.pk]),
        reverse("admin:sso_application_changelist"),
        reverse("admin:sso_application_change", args=[evil_app.app.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode(), url)


def test_emails_are_plain_text_and_carry_no_live_markup(
    user, payload, mailoutbox, django_capture_on_commit_callbacks
):
    from accounts import emails

    emails.send_new_sign_in(
        username=user.username, to=user.email, when=user.date_joined, device=payload, ip="1.2.3.4"
    )
    emails.send_email_change_requested(username=user.username, to=user.email, new_email=payload)
    for message in mailoutbox:
        # Text only: no HTML part for a mail client to render, so markup stays inert text.
        assert not getattr(message, "alternatives", [])
        assert message.content_subtype == "plain"


def test_application_service_stores_names_verbatim_and_pages_escape_them(owner, client):
    app, _ = sso_services.application_create(
        owner=owner,
        name="<b>bold</b>",
        client_type="confidential",
        redirect_uris="https://rp.example.com/cb",
        post_logout_redirect_uris="",
        allowed_scopes="openid",
    )
    client.force_login(owner)
    html = client.get(reverse("sso:app_list")).content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert app.name == "<b>bold</b>"
