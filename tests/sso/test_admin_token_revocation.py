"""Revoking OAuth tokens in the admin ends the whole sign-in through sso.services, in the token
cache too; the flows' codes and tokens are never edited by hand."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from accounts.models import UserSession
from tests.factories import UserFactory
from tests.security.test_privilege_escalation import with_django_perms
from tests.sso.conftest import Registered, basic, refresh, register, sign_in

pytestmark = pytest.mark.django_db

AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()


def _userinfo(tokens: dict[str, str]) -> int:
    bearer = f"Bearer {tokens['access_token']}"
    return Client().get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=bearer).status_code


@pytest.fixture
def signed_in(owner, user) -> tuple[Registered, dict[str, str]]:
    rp = register(owner)
    tokens = sign_in(Client(), rp, user)
    assert _userinfo(tokens) == 200  # and now in the token cache
    return rp, tokens


@pytest.mark.parametrize(
    ("model", "view"),
    [
        (AccessToken, "admin:oauth2_provider_accesstoken_changelist"),
        (RefreshToken, "admin:oauth2_provider_refreshtoken_changelist"),
    ],
    ids=["access", "refresh"],
)
def test_admin_revoking_a_token_ends_the_whole_sign_in(admin_client, user, signed_in, model, view):
    rp, tokens = signed_in
    token = model.objects.get(user=user)

    response = admin_client.post(
        reverse(view), {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )

    assert response.status_code == 302
    assert _userinfo(tokens) == 401
    assert refresh(Client(), rp, tokens["refresh_token"]).status_code == 400
    assert not UserSession.objects.filter(user=user, channel="oauth", revoked_at=None).exists()


def test_admin_revoking_a_client_credentials_token_drops_it(admin_client, owner):
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    response = Client().post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic(service.client_id, service.secret),
    )
    assert response.status_code == 200, response.content
    token = AccessToken.objects.get(application=service.app)

    admin_client.post(
        reverse("admin:oauth2_provider_accesstoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )

    assert not AccessToken.objects.filter(pk=token.pk).exists()


def test_admin_viewer_of_tokens_cannot_revoke_them(user, signed_in):
    _, tokens = signed_in
    viewer = with_django_perms(UserFactory(staff=True), "oauth2_provider.view_accesstoken")
    client = Client()
    client.force_login(viewer)

    client.post(
        reverse("admin:oauth2_provider_accesstoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [AccessToken.objects.get(user=user).pk]},
    )

    assert _userinfo(tokens) == 200


def test_admin_cannot_edit_an_issued_token(admin_client, user, signed_in):
    token = AccessToken.objects.get(user=user)
    url = reverse("admin:oauth2_provider_accesstoken_change", args=[token.pk])

    admin_client.post(url, {"scope": "openid profile email admin.write", "user": user.pk})

    assert AccessToken.objects.get(pk=token.pk).scope == token.scope
    grant_list = admin_client.get(reverse("admin:oauth2_provider_grant_changelist"))
    assert grant_list.status_code == 200
