"""Access tokens carry the user's roles, included roles expanded; a change shows at refresh."""

from __future__ import annotations

import pytest

from accounts.jwt import AccessToken
from accounts.tokens import api_session_start, token_refresh
from authz import services

pytestmark = pytest.mark.django_db


def roles_in(access_token: str) -> list[str]:
    return AccessToken(access_token)["roles"]


def test_token_carries_expanded_roles_and_follows_changes_at_refresh(user, billing_clerk):
    lead = services.role_create(name="billing-lead", included_roles=["billing-clerk"])
    first = api_session_start(user=user, ip="203.0.113.5", user_agent="pytest")
    assert roles_in(first.access_token) == []

    services.role_assign(user=user, role=lead, granted_by=None)
    second = token_refresh(refresh_token=first.refresh_token)
    assert roles_in(second.access_token) == ["billing-clerk", "billing-lead"]

    services.role_unassign(user=user, role=lead)
    third = token_refresh(refresh_token=second.refresh_token)
    assert roles_in(third.access_token) == []
