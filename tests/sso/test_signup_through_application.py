"""Signing up through an application (POST /api/v1/auth/signup/ with client_id) makes the new
user a member of an unrestricted one; a restricted application's public client_id gives no
membership (only its owner adds members); an unknown client_id is refused before any account
exists."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from sso import selectors, services
from sso.errors import UnknownApplication
from tests.sso.conftest import authorize, pkce_pair, register

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough secret 42"


def _signup(**extra: str):
    body = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD, **extra}
    return APIClient().post(reverse("api:sso:signup"), body, format="json")


def test_signup_with_client_id_makes_the_user_a_member(owner) -> None:
    rp = register(owner)
    response = _signup(client_id=rp.client_id)
    assert response.status_code == 201, response.content
    user = User.objects.get(username="newbie")
    assert selectors.application_is_member(application=rp.app, user=user)
    assert services.application_user_may_sign_in(application=rp.app, user=user)


def test_signup_with_a_restricted_apps_client_id_joins_nothing(owner) -> None:
    # The client_id is public (every authorize URL shows it): knowing it is no invitation.
    rp = register(owner, restricted=True)
    response = _signup(client_id=rp.client_id)
    assert response.status_code == 201, response.content
    user = User.objects.get(username="newbie")
    assert not rp.app.memberships.exists()
    assert not services.application_user_may_sign_in(application=rp.app, user=user)
    # And the sign-in itself is refused: the OAuth front channel shows the members-only page.
    client = Client()
    client.force_login(user)
    _, challenge = pkce_pair()
    refused = authorize(client, rp, challenge=challenge)
    assert refused.status_code == 403
    assert "sso/not_member.html" in [t.name for t in refused.templates]


def test_signup_without_client_id_joins_no_application(owner) -> None:
    rp = register(owner)
    assert _signup().status_code == 201
    user = User.objects.get(username="newbie")
    assert not selectors.application_is_member(application=rp.app, user=user)


def test_unknown_client_id_is_a_problem_on_the_field_and_creates_no_user(mailoutbox) -> None:
    response = _signup(client_id="no-such-client")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_client_id"
    assert body["errors"] == [
        {"field": "client_id", "code": "invalid_client_id", "message": UnknownApplication.message}
    ]
    assert not User.objects.filter(username="newbie").exists()
    assert mailoutbox == []


def test_failed_sign_up_adds_no_membership(owner, user) -> None:
    rp = register(owner)
    response = _signup(client_id=rp.client_id, email=user.email)  # the address is taken
    assert response.status_code == 409, response.content
    assert not rp.app.memberships.exists()


def test_service_is_one_transaction(owner, monkeypatch) -> None:
    rp = register(owner)

    def fail(**kwargs):
        raise RuntimeError("membership failed")

    monkeypatch.setattr(services, "application_member_add", fail)
    with pytest.raises(RuntimeError):
        services.user_sign_up_through_application(
            username="newbie", email="newbie@example.com", password=PASSWORD, client_id=rp.client_id
        )
    assert not User.objects.filter(username="newbie").exists()
