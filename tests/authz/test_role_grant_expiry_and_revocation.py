"""A role granted with an expiry gives its permission until it expires or is revoked, on the
next check and in the next refreshed token (the authz issue's acceptance story)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.jwt import AccessToken
from accounts.tokens import api_session_start, token_refresh

pytestmark = pytest.mark.django_db


def check(client: APIClient) -> int:
    response = client.post(
        reverse("api:authz:check"), {"permission": "billing.read"}, format="json"
    )
    return response.status_code


def test_a_role_granted_until_a_time_holds_until_it_expires_or_is_revoked(
    roles_admin, user, monkeypatch
) -> None:
    admin = APIClient()
    admin.force_authenticate(roles_admin)
    admin.post(reverse("api:authz:permissions"), {"code": "billing.read"}, format="json")
    role = {"name": "billing-clerk", "permissions": ["billing.read"]}
    assert admin.post(reverse("api:authz:roles"), role, format="json").status_code == 201
    expiry = timezone.now() + timedelta(hours=1)
    assign = {"role": "billing-clerk", "expires_at": expiry.isoformat()}
    roles_url = reverse("api:authz:user_roles", kwargs={"public_id": user.public_id})
    assert admin.post(roles_url, assign, format="json").status_code == 201

    member = APIClient()
    member.force_authenticate(user)
    pair = api_session_start(user=user, ip="203.0.113.9", user_agent="pytest")
    assert check(member) == 200
    assert "billing-clerk" in AccessToken(pair.access_token)["roles"]

    later = expiry + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert check(member) == 403
    monkeypatch.undo()

    assert check(member) == 200
    revoke = reverse(
        "api:authz:user_role", kwargs={"public_id": user.public_id, "name": "billing-clerk"}
    )
    assert admin.delete(revoke).status_code == 204
    assert check(member) == 403
    refreshed = token_refresh(refresh_token=pair.refresh_token)
    assert "billing-clerk" not in AccessToken(refreshed.access_token)["roles"]
