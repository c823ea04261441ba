"""Self-service: account, profile, password, deletion."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User, UserSession
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another long secret 77"


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def test_me_get(user_api, user):
    data = user_api.get(url("me")).json()
    assert data["public_id"] == str(user.public_id)
    assert data["user_type"] == "customer"
    assert data["email_verified"] is True


def test_me_get_renders_exactly_what_its_serializer_documents(user_api, user, settings):
    from accounts.api.serializers import MeOutputSerializer

    settings.TIME_ZONE = "Europe/Paris"  # a time zone is applied the same way on both paths
    data = user_api.get(url("me")).json()
    assert data == MeOutputSerializer(user).data
    assert data == MeOutputSerializer.represent(user)
    assert set(data) == set(MeOutputSerializer().fields)


def test_me_patch_username_and_email_waits(user_api, user, mailoutbox):
    response = user_api.patch(
        url("me"),
        {
            "username": "renamed",
            "email": "new@example.com",
            "current_password": DEFAULT_PASSWORD,
            "user_type": "admin",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["username"] == "renamed"
    assert data["email"] == user.email
    assert data["pending_email"] == "new@example.com"
    assert data["user_type"] == "customer"
    assert any(m.to == ["new@example.com"] for m in mailoutbox)


def test_me_patch_taken_username(user_api, user_factory):
    other = user_factory()
    response = user_api.patch(url("me"), {"username": other.username}, format="json")
    assert_problem(response, 409, "username_exists")


def test_profile_get_put_patch(user_api, user):
    assert user_api.get(url("me_profile")).status_code == 200
    full = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone_number": "+44 20 7946 0000",
        "address": "London",
        "date_of_birth": "1815-12-10",
    }
    assert user_api.put(url("me_profile"), full, format="json").json() == full
    missing = user_api.put(url("me_profile"), {"first_name": "A"}, format="json")
    assert_problem(missing, 400, "validation_error")
    patched = user_api.patch(url("me_profile"), {"last_name": "King"}, format="json").json()
    assert patched["last_name"] == "King"
    assert patched["first_name"] == "Ada"
    bad = user_api.patch(url("me_profile"), {"phone_number": "call me"}, format="json")
    assert_problem(bad, 400, "validation_error")


def test_password_change(api, user, api_tokens):
    keep, other = api_tokens(user), api_tokens(user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {keep['access_token']}")
    body = {"current_password": "wrong", "new_password": NEW_PASSWORD}
    wrong = api.post(
        url("me_password"), {**body, "new_password_confirm": NEW_PASSWORD}, format="json"
    )
    assert_problem(wrong, 400, "incorrect_password")
    body["current_password"] = DEFAULT_PASSWORD
    mismatch = api.post(url("me_password"), {**body, "new_password_confirm": "x"}, format="json")
    assert_problem(mismatch, 400, "password_mismatch")
    ok = api.post(url("me_password"), {**body, "new_password_confirm": NEW_PASSWORD}, format="json")
    assert ok.status_code == 204
    assert api.get(url("me")).status_code == 200  # this sign-in stays
    other_sid = UserSession.objects.exclude(revoked_at=None).filter(user=user)
    assert other_sid.count() == 1
    refresh = api.post(url("refresh"), {"refresh_token": other["refresh_token"]}, format="json")
    assert_problem(refresh, 401, "token_not_valid")


def test_delete_me(user, signed_in_api):
    client = signed_in_api(user)
    assert_problem(
        client.delete(url("me"), {"password": "wrong"}, format="json"), 400, "incorrect_password"
    )
    assert (
        client.delete(url("me"), {"password": DEFAULT_PASSWORD}, format="json").status_code == 204
    )
    assert not User.objects.filter(pk=user.pk).exists()
