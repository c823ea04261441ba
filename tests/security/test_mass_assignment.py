"""Mass assignment: no API lets a user set privileged fields or another user's data
(ASVS 4.0.3 V5.1.2, V4.1.x, V4.2.1 / 5.0 V15.3.3, V8.2.x)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Profile, User
from sso.models import Application
from tests.factories import UserFactory
from tests.sso.conftest import REDIRECT_URI, register

pytestmark = pytest.mark.django_db

PRIVILEGED = {
    "is_staff": True,
    "is_superuser": True,
    "user_type": "admin",
    "email_verified_at": "2020-01-01T00:00:00Z",
    "email_verified": True,
    "is_active": True,
    "must_change_password": False,
    "public_id": "00000000-0000-0000-0000-000000000001",
    "id": 1,
    "password": "x" * 20,
    "date_joined": "2000-01-01T00:00:00Z",
    "user": "00000000-0000-0000-0000-000000000001",
    "roles": ["admin"],
}


def snapshot(user: User) -> dict:
    user = User.objects.select_related("profile").get(pk=user.pk)
    fields = (
        "is_staff",
        "is_superuser",
        "user_type",
        "email_verified_at",
        "is_active",
        "must_change_password",
        "public_id",
        "password",
        "date_joined",
        "username",
        "email",
    )
    profile = Profile.objects.filter(user=user).values().first()
    return {**{f: getattr(user, f) for f in fields}, "profile": profile}


@pytest.fixture
def unverified() -> User:
    return UserFactory(unverified=True)


@pytest.mark.parametrize(("field", "value"), PRIVILEGED.items())
@pytest.mark.parametrize("method", ["patch_me", "put_profile", "patch_profile"])
def test_self_service_cannot_set_privileged_fields(unverified, field, value, method, signed_in_api):
    # An unverified account may not sign in: verify first, but leave the flags to attack.
    User.objects.filter(pk=unverified.pk).update(email_verified_at="2024-01-01T00:00:00Z")
    client, victim = signed_in_api(unverified), UserFactory()
    before, victim_before = snapshot(unverified), snapshot(victim)
    if method == "patch_me":
        response = client.patch(reverse("api:accounts:me"), {field: value}, format="json")
    else:
        profile = {"first_name": "A", "last_name": "B", "phone_number": "", "address": ""}
        body = {**profile, "date_of_birth": None, field: value}
        call = client.put if method == "put_profile" else client.patch
        response = call(reverse("api:accounts:me_profile"), body, format="json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["errors"][0]["code"] in ("unknown_field", "invalid")
    after = snapshot(unverified)
    if method != "patch_me" and response.status_code == 200:
        before["profile"], after["profile"] = None, None  # names may change; nothing else
    assert after == before
    assert snapshot(victim) == victim_before


@pytest.mark.parametrize(
    ("field", "value"), [(k, v) for k, v in PRIVILEGED.items() if k != "password"]
)
def test_signup_cannot_set_privileged_fields(field, value):
    body = {
        "username": f"new.{field}",
        "email": f"new.{field}@example.com",
        "password": "a long new passphrase 99",
        field: value,
    }
    response = APIClient().post(reverse("api:sso:signup"), body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_field"
    assert not User.objects.filter(username=body["username"]).exists()


def test_non_admin_cannot_use_the_admin_api(user, signed_in_api):
    client, victim = signed_in_api(user), UserFactory()
    before = snapshot(victim)
    url = reverse("api:accounts:user", args=[victim.public_id])
    assert client.get(reverse("api:accounts:users")).status_code == 403
    assert client.patch(url, {"user_type": "admin"}, format="json").status_code == 403
    assert client.patch(url, {"email": "mine@example.com"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    created = client.post(
        reverse("api:accounts:users"),
        {"username": "sneaky", "email": "sneaky@example.com", "user_type": "admin"},
        format="json",
    )
    assert created.status_code == 403
    assert snapshot(victim) == before
    assert not User.objects.filter(username="sneaky").exists()


@pytest.mark.parametrize("field", ["is_staff", "is_superuser", "email_verified_at", "password"])
def test_even_the_admin_api_refuses_superuser_flags(admin_user, field, signed_in_api):
    victim = UserFactory()
    before = snapshot(victim)
    response = signed_in_api(admin_user).patch(
        reverse("api:accounts:user", args=[victim.public_id]),
        {field: PRIVILEGED[field]},
        format="json",
    )
    assert response.status_code == 400
    assert snapshot(victim) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("is_first_party", True),
        ("skip_authorization", True),
        ("user", "00000000-0000-0000-0000-000000000001"),
        ("owner", "00000000-0000-0000-0000-000000000001"),
        ("client_id", "chosen-id"),
        ("client_secret", "chosen-secret-chosen-secret"),
        ("algorithm", "HS256"),
        ("authorization_grant_type", "password"),
    ],
)
def test_applications_api_refuses_privileged_fields(user, field, value, signed_in_api):
    client = signed_in_api(user)
    body = {
        "name": "Mine",
        "client_type": "confidential",
        "redirect_uris": [REDIRECT_URI],
        field: value,
    }
    created = client.post(reverse("api:sso:applications"), body, format="json")
    assert created.status_code == 400, created.content
    assert not Application.objects.filter(name="Mine").exists()
    mine = register(user)
    before = Application.objects.filter(pk=mine.app.pk).values().get()
    url = reverse("api:sso:application", args=[mine.client_id])
    assert client.patch(url, {field: value}, format="json").status_code == 400
    assert Application.objects.filter(pk=mine.app.pk).values().get() == before


def test_applications_of_another_owner_are_invisible(user, signed_in_api):
    theirs = register(UserFactory())
    client = signed_in_api(user)
    url = reverse("api:sso:application", args=[theirs.client_id])
    before = Application.objects.filter(pk=theirs.app.pk).values().get()
    assert client.get(url).status_code == 404
    assert client.patch(url, {"name": "pwned"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    rotate = reverse("api:sso:application_rotate_secret", args=[theirs.client_id])
    assert client.post(rotate).status_code == 404
    assert Application.objects.filter(pk=theirs.app.pk).values().get() == before


def test_sessions_of_another_user_cannot_be_revoked(user, user_session_factory, signed_in_api):
    theirs = user_session_factory(user=UserFactory())
    response = signed_in_api(user).delete(reverse("api:accounts:me_session", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
