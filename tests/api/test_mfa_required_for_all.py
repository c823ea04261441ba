"""MFA_REQUIRED_FOR_ALL: every account needs a second factor before it gets tokens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import UserSession
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_account_without_a_factor_gets_no_tokens_when_every_account_needs_one(api, user, settings):
    settings.MFA_REQUIRED_FOR_ALL = True
    response = api.post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_enrollment_required"
    assert "access_token" not in response.json()
    assert not UserSession.objects.filter(user=user).exists()


def test_account_without_a_factor_signs_in_when_the_setting_is_off(api, user, settings):
    settings.MFA_REQUIRED_FOR_ALL = False
    response = api.post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["access_token"]
