"""Developer apps and connected apps: pages and API call the same services."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import UserSession
from authz.models import Role, RoleAssignment
from sso.models import Application, Consent
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_register_page_shows_the_secret_once(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("sso:app_create"),
        {
            "name": "Shop",
            "kind": "confidential",
            "redirect_uris": "https://shop.example.com/cb",
            "allowed_scopes": ["openid", "email"],
        },
    )
    app = Application.objects.get(name="Shop")
    assert response["Location"] == reverse("sso:app_detail", args=[app.client_id])
    first = client.get(response["Location"])
    secret = first.context["client_secret"]
    assert secret
    assert secret.encode() in first.content
    assert app.client_secret.startswith("hmac_sha256$")
    assert secret.encode() not in client.get(response["Location"]).content


def test_register_page_refuses_http_redirects_except_loopback(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("sso:app_create"),
        {
            "name": "Bad",
            "kind": "public",
            "redirect_uris": "http://shop.example.com/cb",
            "allowed_scopes": ["openid"],
        },
    )
    assert response.status_code == 200
    assert "RFC 8252" in str(response.context["form"].errors)


def test_api_create_list_rotate_delete(owner, user):
    api = _api(owner)
    created = api.post(
        reverse("api:sso:applications"),
        {
            "name": "CLI",
            "client_type": "confidential",
            "redirect_uris": ["https://x.example/cb"],
            "allowed_scopes": ["openid", "profile"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["client_secret"]
    assert body["allowed_scopes"] == ["openid", "profile"]
    client_id = body["client_id"]
    listed = api.get(reverse("api:sso:applications")).json()
    assert [a["client_id"] for a in listed["results"]] == [client_id]
    assert _api(user).get(reverse("api:sso:application", args=[client_id])).status_code == 404
    rotated = api.post(reverse("api:sso:application_rotate_secret", args=[client_id])).json()
    assert rotated["client_secret"] != body["client_secret"]
    patched = api.patch(
        reverse("api:sso:application", args=[client_id]), {"restricted": True}, format="json"
    )
    assert patched.json()["restricted"] is True
    assert api.delete(reverse("api:sso:application", args=[client_id])).status_code == 204


def test_api_duplicate_name_is_409(owner):
    api = _api(owner)
    payload = {"name": "Dup", "client_type": "public", "redirect_uris": ["https://x.example/cb"]}
    api.post(reverse("api:sso:applications"), payload, format="json")
    response = api.post(reverse("api:sso:applications"), payload, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "application_name_taken"


def test_apps_manage_sees_every_application(owner, user):
    register(owner)
    role = Role.objects.filter(permissions__code="apps.manage").first()
    if role is None:
        pytest.skip("no role grants apps.manage in this database")
    RoleAssignment.objects.create(user=user, role=role)
    results = _api(user).get(reverse("api:sso:applications")).json()["results"]
    assert len(results) >= 1


def test_members_api(owner, user, mailoutbox):
    """Adding by public id (the older field) invites; the username shows once accepted."""
    rp = register(owner, restricted=True)
    api = _api(owner)
    url = reverse("api:sso:application_members", args=[rp.client_id])
    assert api.post(url, {"user": str(user.public_id)}, format="json").status_code == 202
    assert api.get(url).json()["results"] == []
    link = re.search(r"https?://[^/\s]+(/\S+/invitations/\S+/)", mailoutbox[-1].body).group(1)
    member_client = Client()
    member_client.force_login(user)
    assert member_client.post(link).status_code == 302
    assert api.get(url).json()["results"][0]["username"] == user.username
    member = reverse("api:sso:application_member", args=[rp.client_id, user.public_id])
    assert api.delete(member).status_code == 204


def test_deleting_an_application_revokes_its_tokens(client, rp, user):
    tokens = sign_in(client, rp, user)
    _api(rp.app.user).delete(reverse("api:sso:application", args=[rp.client_id]))
    info = client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )
    assert info.status_code == 401
    assert user.__class__.objects.filter(pk=user.pk).exists()


def test_connected_apps_page_and_revoke(client, rp, user):
    tokens = sign_in(client, rp, user)
    page = client.get(reverse("sso:connected_apps"))
    assert rp.app.name.encode() in page.content
    client.post(reverse("sso:connected_app_revoke", args=[rp.client_id]))
    assert not Consent.objects.filter(user=user).exists()
    info = client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )
    assert info.status_code == 401
    assert not UserSession.objects.filter(user=user, channel="oauth", revoked_at=None).exists()


def test_connected_apps_api(client, rp, user):
    sign_in(client, rp, user)
    api = _api(user)
    listed = api.get(reverse("api:sso:connected_apps")).json()["results"]
    assert listed[0]["client_id"] == rp.client_id
    assert listed[0]["scopes"] == ["email", "openid", "profile"]
    assert api.delete(reverse("api:sso:connected_app", args=[rp.client_id])).status_code == 204
    assert api.get(reverse("api:sso:connected_apps")).json()["results"] == []


def test_oauth_token_on_the_api_needs_the_scope(client, rp, user):
    tokens = sign_in(client, rp, user, scope="openid")
    api = APIClient()
    response = api.get(
        reverse("api:accounts:me"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
