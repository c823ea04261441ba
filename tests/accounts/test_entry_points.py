"""Every entry point that creates an account obeys the same rules (issue 19): the email-domain
rules, the optional profile fields, and sign-up errors reported for every field at once."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests.api.conftest import assert_problem
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough secret 9"
PROFILE = {"first_name": "Ada", "last_name": "Lovelace", "phone_number": "+44 20 7946 0958"}


def users_url() -> str:
    return reverse("api:accounts:users")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin(db: None) -> User:
    return UserFactory(superuser=True)


@pytest.fixture
def admin_api(admin: User, signed_in_api) -> APIClient:
    return signed_in_api(admin)


@pytest.fixture
def admin_client(client, admin: User):
    client.force_login(admin)
    return client


@pytest.fixture
def blocked(email_domain_rule_factory):
    return email_domain_rule_factory(domain="blocked.example", action="block")


# -- sign-up reports every field's errors in one answer --------------------------------------


def test_api_signup_reports_every_fields_errors_at_once(api_client):
    response = api_client.post(
        reverse("api:sso:signup"),
        {"username": "", "email": "not-an-email", "password": "short"},
        format="json",
    )
    body = assert_problem(response, 400, "validation_error")
    fields = {(error["field"], error["code"]) for error in body["errors"]}
    assert {"username", "email", "password"} <= {field for field, _ in fields}
    assert ("password", "password_too_short") in fields


def test_page_signup_reports_every_fields_errors_at_once(client):
    response = client.post(
        reverse("accounts:signup"),
        {"username": "", "email": "not-an-email", "password": "short", "password_confirm": "short"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"username", "email", "password"} <= set(errors)
    assert any("too short" in message for message in errors["password"])
    assert not User.objects.exists()


@pytest.mark.parametrize("channel", ["api", "page"])
def test_signup_still_refuses_a_password_like_the_username(channel, client, api_client):
    """With the other fields valid, the policy runs with the similarity check."""
    data = {
        "username": "marmaduke.longname",
        "email": "mm@example.com",
        "password": "marmaduke.longname1",
    }
    if channel == "api":
        response = api_client.post(reverse("api:sso:signup"), data, format="json")
        body = assert_problem(response, 400, "validation_error")
        assert ("password", "password_too_similar") in {
            (error["field"], error["code"]) for error in body["errors"]
        }
    else:
        response = client.post(
            reverse("accounts:signup"), {**data, "password_confirm": data["password"]}
        )
        assert any("too similar" in e for e in response.context["form"].errors["password"])
    assert not User.objects.exists()


# -- the optional profile fields -------------------------------------------------------------


def test_api_signup_accepts_the_profile_fields(api_client):
    data = {"username": "ada", "email": "ada@example.com", "password": PASSWORD, **PROFILE}
    response = api_client.post(reverse("api:sso:signup"), data, format="json")
    assert response.status_code == 201, response.content
    profile = User.objects.get(username="ada").profile
    assert (profile.first_name, profile.last_name, profile.phone_number) == tuple(PROFILE.values())


def test_page_signup_accepts_the_profile_fields(client):
    data = {"username": "ada", "email": "ada@example.com", "password": PASSWORD}
    response = client.post(
        reverse("accounts:signup"), {**data, "password_confirm": PASSWORD, **PROFILE}
    )
    assert response.status_code == 302
    profile = User.objects.get(username="ada").profile
    assert (profile.first_name, profile.last_name, profile.phone_number) == tuple(PROFILE.values())


def test_admin_api_create_accepts_the_profile_fields(admin_api):
    data = {"username": "ada", "email": "ada@example.com", **PROFILE}
    response = admin_api.post(users_url(), data, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["profile"]["last_name"] == "Lovelace"
    assert User.objects.get(username="ada").profile.phone_number == PROFILE["phone_number"]


def test_admin_form_create_accepts_the_profile_fields(admin_client):
    data = {"username": "ada", "email": "ada@example.com", "user_type": "customer", **PROFILE}
    response = admin_client.post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(username="ada").profile.first_name == "Ada"


@pytest.mark.parametrize("channel", ["signup", "admin"])
def test_a_bad_phone_number_is_refused_like_the_profile_edit_does(channel, api_client, admin_api):
    data = {"username": "ada", "email": "ada@example.com", "phone_number": "call me maybe"}
    if channel == "signup":
        response = api_client.post(
            reverse("api:sso:signup"), {**data, "password": PASSWORD}, format="json"
        )
    else:
        response = admin_api.post(users_url(), data, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["phone_number"]
    assert not User.objects.filter(username="ada").exists()


# -- email-domain rules for accounts made by administrators -----------------------------------


def test_admin_api_create_obeys_the_domain_rules(admin_api, blocked):
    data = {"username": "eve", "email": "eve@blocked.example"}
    response = admin_api.post(users_url(), data, format="json")
    assert_problem(response, 403, "email_domain_not_allowed")
    assert not User.objects.filter(username="eve").exists()


def test_admin_api_create_may_override_the_domain_rules_explicitly_and_it_is_audited(
    admin_api, admin, blocked
):
    data = {"username": "eve", "email": "eve@blocked.example", "ignore_domain_rules": True}
    response = admin_api.post(users_url(), data, format="json")
    assert response.status_code == 201, response.content
    created = User.objects.get(username="eve")
    entry = LogEntry.objects.get(object_id=str(created.pk))
    assert entry.user == admin
    assert "email-domain rules" in entry.get_change_message()


def test_admin_api_create_refuses_a_non_boolean_override(admin_api, blocked):
    data = {"username": "eve", "email": "eve@blocked.example", "ignore_domain_rules": "maybe"}
    assert_problem(admin_api.post(users_url(), data, format="json"), 400, "validation_error")


def test_admin_form_create_obeys_the_domain_rules(admin_client, blocked):
    data = {"username": "eve", "email": "eve@blocked.example", "user_type": "customer"}
    response = admin_client.post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="eve").exists()


def test_admin_form_create_may_override_the_domain_rules_and_it_is_audited(
    admin_client, admin, blocked
):
    data = {
        "username": "eve",
        "email": "eve@blocked.example",
        "user_type": "customer",
        "ignore_domain_rules": "on",
    }
    response = admin_client.post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 302, response.content[:2000]
    created = User.objects.get(username="eve")
    messages = [e.get_change_message() for e in LogEntry.objects.filter(object_id=str(created.pk))]
    assert any("email-domain rules" in message for message in messages)
    assert all(entry.user == admin for entry in LogEntry.objects.filter(object_id=created.pk))


def test_admin_api_email_change_obeys_the_domain_rules(admin_api, user, blocked, mailoutbox):
    url = reverse("api:accounts:user", kwargs={"public_id": user.public_id})
    response = admin_api.patch(url, {"email": "eve@blocked.example"}, format="json")
    assert_problem(response, 403, "email_domain_not_allowed")
    assert mailoutbox == []


def test_admin_api_email_change_may_override_the_domain_rules(
    admin_api, admin, user, blocked, mailoutbox
):
    url = reverse("api:accounts:user", kwargs={"public_id": user.public_id})
    data = {"email": "eve@blocked.example", "ignore_domain_rules": True}
    response = admin_api.patch(url, data, format="json")
    assert response.status_code == 200, response.content
    assert "eve@blocked.example" in {to for message in mailoutbox for to in message.to}
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert entry.user == admin
    assert "email-domain rules" in entry.get_change_message()
