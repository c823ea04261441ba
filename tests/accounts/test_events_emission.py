"""The events a user's own actions and an administrator's write, as they act on the pages, the
API and the admin: one event per change, whose account, who did it, and only what changed."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import OneTimeToken, User, UserSession
from accounts.services.secrets import secret_issue
from identity.events import TARGET_FINDERS, DeliveryTarget, target_finder_add
from identity.models import Event
from tests.admin_forms import admin_change_form_post
from tests.factories import DEFAULT_PASSWORD, RoleFactory
from tests.identity.event_triggers import failures_subscribed
from tests.passkeys import authenticator_new, passkey_enrol
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = ["http://localhost:8000"]


def _one(type: str, **filters: object) -> Event:
    events = list(Event.objects.filter(type=type, **filters))
    assert len(events) == 1, [e.data for e in events]
    return events[0]


# -- sign-ins, on every channel --------------------------------------------------------------


def test_page_sign_in_writes_a_browser_sign_in_event_naming_its_session(user):
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert Client().post(reverse("accounts:login"), body).status_code == 302

    event = _one("sign_in.succeeded")
    session = UserSession.objects.get(user=user)
    assert event.sid == str(session.pk)
    assert event.subject_public_id == event.actor_public_id == user.public_id
    assert event.data == {"channel": "browser", "amr": ["pwd"]}


def test_admin_sign_in_writes_an_admin_sign_in_event(admin_user):
    body = {"username": admin_user.username, "password": DEFAULT_PASSWORD}
    response = Client().post(reverse("admin:login"), body)
    assert response.status_code == 302

    event = _one("sign_in.succeeded")
    assert event.data["channel"] == "admin"
    assert event.sid == str(UserSession.objects.get(user=admin_user).pk)


def test_oauth_code_exchange_writes_an_oauth_sign_in_event_with_the_client_id(user_factory):
    rp, user = register(user_factory()), user_factory()
    Event.objects.all().delete()  # the registration's and the browser's own events

    client = Client()
    client.force_login(user)
    client.get(reverse("accounts:profile"))  # the browser's sign-in, adopted
    sign_in(client, rp, user)

    event = _one("sign_in.succeeded", data__channel="oauth")
    assert event.client_id == rp.client_id
    oauth = UserSession.objects.get(user=user, channel="oauth")
    assert event.sid == str(oauth.pk)
    assert event.subject_public_id == user.public_id


def test_passkey_page_sign_in_writes_one_event_saying_how_it_was_proven(client, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    Event.objects.all().delete()
    options = client.post(
        reverse("accounts:passkey_login_options"), {}, content_type="application/json"
    )
    body = {"credential": authenticator.get(options.json())}
    response = client.post(reverse("accounts:passkey_login"), body, content_type="application/json")
    assert response.status_code == 200, response.content

    event = _one("sign_in.succeeded")
    assert event.data == {"channel": "browser", "amr": ["hwk"]}


def test_failed_sign_in_with_nobody_subscribed_writes_nothing_and_costs_no_query(user):
    url, body = reverse("api:accounts:login"), {"login": user.username, "password": "wrong!"}
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(url, body, content_type="application/json")

    assert response.status_code == 401
    assert not [q for q in queries.captured_queries if "identity_event" in q["sql"]]
    assert not Event.objects.exists()


def test_lockout_writes_one_event_when_the_lock_starts_and_none_while_it_holds(user):
    url = reverse("api:accounts:login")
    body = {"login": user.username, "password": "not the password"}
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        Client().post(url, body, content_type="application/json")

    event = _one("lockout.started")
    assert event.subject_public_id == user.public_id
    assert event.actor_public_id is None
    assert event.data == {"channel": "api", "ip": "127.0.0.1"}


# -- account changes -------------------------------------------------------------------------


def test_sign_up_writes_an_account_created_by_nobody(client):
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": DEFAULT_PASSWORD}
    response = client.post(reverse("api:sso:signup"), body, content_type="application/json")
    assert response.status_code == 201, response.content

    event = _one("user.created")
    assert event.subject_public_id == User.objects.get(username="newcomer").public_id
    assert event.actor_public_id is None
    assert event.data == {"how": "sign_up"}


def test_profile_page_names_the_fields_changed_and_writes_nothing_when_none_did(client, user):
    client.force_login(user)
    url = reverse("accounts:profile")
    body = {"first_name": "Ada", "last_name": user.profile.last_name, "phone_number": ""}
    assert client.post(url, body).status_code == 302
    assert client.post(url, body).status_code == 302  # the same again: no change

    event = _one("user.updated")
    assert event.data == {"changed": ["first_name"]}
    assert event.actor_public_id == event.subject_public_id == user.public_id


def test_admin_change_form_writes_an_update_and_a_deactivation_by_the_admin(
    admin_client, admin_user, user
):
    admin_change_form_post(
        admin_client, "admin:accounts_user_change", user, user_type="partner", is_active=False
    )

    updated, deactivated = _one("user.updated"), _one("user.deactivated")
    assert updated.data == {"changed": ["user_type"]}
    assert updated.actor_public_id == deactivated.actor_public_id == admin_user.public_id
    assert deactivated.subject_public_id == user.public_id


def test_admin_password_form_writes_a_password_change_by_the_admin(admin_client, admin_user, user):
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    new = "An entirely new passphrase 77"
    response = admin_client.post(
        url, {"password1": new, "password2": new, "set_usable_password": "true"}
    )
    assert response.status_code == 302, response.content

    event = _one("user.password_changed")
    assert event.actor_public_id == admin_user.public_id
    assert event.data == {"how": "admin", "usable": True}
    assert new not in str(event.data)


def test_password_reset_by_code_writes_a_reset(api, user):
    _, code = secret_issue(
        user=user,
        purpose=OneTimeToken.Purpose.PASSWORD_RESET,
        ttl=settings.PASSWORD_RESET_LINK_TTL,
        with_code=True,
    )
    new = "Reset to a fresh passphrase 19"
    body = {"login": user.username, "code": code, "new_password": new}
    response = api.post(reverse("api:accounts:password_reset_confirm"), body, format="json")
    assert response.status_code in (200, 204), response.content

    assert _one("user.password_changed").data == {"how": "reset"}


def test_own_deletion_names_the_gone_account_and_its_holder_as_actor(user_api, user):
    response = user_api.delete(
        reverse("api:accounts:me"), {"password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 204, response.content

    assert not User.objects.filter(pk=user.pk).exists()
    event = _one("user.deleted")
    assert event.subject_public_id == event.actor_public_id == user.public_id


def test_refused_admin_change_rolls_its_events_back_with_it(admin_api, user, user_factory):
    taken = user_factory()
    response = admin_api.patch(
        reverse("api:accounts:user", args=[user.public_id]),
        {"is_active": False, "username": taken.username},
        format="json",
    )
    assert response.status_code == 409

    user.refresh_from_db()
    assert user.is_active
    assert not Event.objects.filter(type__in=["user.deactivated", "user.updated"]).exists()


# -- roles and applications ------------------------------------------------------------------


def test_role_assignment_over_the_api_says_which_role_until_when_and_who(
    admin_api, admin_user, user
):
    role = RoleFactory()
    body = {"role": role.name, "expires_at": "2099-01-01T00:00:00Z"}
    url = reverse("api:authz:user_roles", args=[user.public_id])
    assert admin_api.post(url, body, format="json").status_code == 201

    event = _one("role.assigned")
    assert event.data == {"role": role.name, "expires_at": "2099-01-01T00:00:00+00:00"}
    assert event.actor_public_id == admin_user.public_id
    assert event.subject_public_id == user.public_id


def test_secret_rotation_names_the_secret_never_its_value(user_api, user):
    registered = register(user)
    url = reverse("api:sso:application_rotate_secret", args=[registered.client_id])
    response = user_api.post(url, {}, format="json")
    assert response.status_code == 200, response.content

    event = _one("application.updated")
    assert event.data == {"changed": ["client_secret"]}
    assert event.client_id == registered.client_id
    assert response.json()["client_secret"] not in str(event.data)


@pytest.mark.django_db(transaction=True)
def test_admin_sign_in_event_is_written_by_the_statement_that_records_the_sign_in(admin_user):
    body = {"username": admin_user.username, "password": DEFAULT_PASSWORD}
    with CaptureQueriesContext(connection) as queries:
        assert Client().post(reverse("admin:login"), body).status_code == 302

    sql = [q["sql"] for q in queries.captured_queries]
    at = [n for n, statement in enumerate(sql) if "identity_event" in statement]
    assert len(at) == 1, "\n".join(sql)
    # One statement for the sign-in and its event: neither is ever committed without the other.
    assert '"accounts_usersession"' in sql[at[0]]


@pytest.mark.django_db(transaction=True)
def test_sign_in_with_a_receiver_commits_session_event_and_delivery_in_one_transaction(user):
    target = DeliveryTarget(kind="test", target="siem", url="https://siem.example/in")

    def siem(events):  # type: ignore[no-untyped-def]
        return [(e, target) for e in events if e.type == "sign_in.succeeded"]

    target_finder_add(siem)
    try:
        body = {"username": user.username, "password": DEFAULT_PASSWORD}
        with CaptureQueriesContext(connection) as queries:
            assert Client().post(reverse("accounts:login"), body).status_code == 302
    finally:
        TARGET_FINDERS.remove(siem)

    sql = [q["sql"] for q in queries.captured_queries]
    begin = next(n for n, s in enumerate(sql) if s == "BEGIN")
    commit = next(n for n, s in enumerate(sql) if s == "COMMIT" and n > begin)
    inside = "\n".join(sql[begin:commit])
    assert '"identity_event"' in inside
    assert '"identity_delivery"' in inside
    event = Event.objects.get(type="sign_in.succeeded", subject_public_id=user.public_id)
    assert event.deliveries.get().target == "siem"
    assert UserSession.objects.filter(pk=event.sid, user=user).exists()


def test_admin_reset_of_second_factors_writes_one_removal_per_method_by_the_admin(admin_user, user):
    from accounts.services.mfa import user_mfa_reset_by_admin
    from tests.mfa import totp_enrol

    totp_enrol(user)
    passkey_enrol(user, authenticator_new())
    Event.objects.all().delete()

    user_mfa_reset_by_admin(actor=admin_user, user=user)

    removed = Event.objects.filter(type="mfa.factor_removed")
    assert sorted(e.data["method"] for e in removed) == ["totp", "webauthn"]
    assert {e.actor_public_id for e in removed} == {admin_user.public_id}
    assert {e.subject_public_id for e in removed} == {user.public_id}


def test_failed_sign_in_event_never_holds_what_was_typed_as_the_login(user):
    """A password typed into the username field stays out of the event."""
    typed = "my-Secret-passphrase-in-the-wrong-field"
    body = {"login": typed, "password": DEFAULT_PASSWORD}
    with failures_subscribed():
        response = Client().post(
            reverse("api:accounts:login"), body, content_type="application/json"
        )
    assert response.status_code == 401

    event = _one("sign_in.failed")
    assert event.subject_public_id is None
    assert event.data == {"channel": "api", "outcome": "bad_credentials", "ip": "127.0.0.1"}
    assert typed.lower() not in json.dumps(event.data).lower()


def test_wrong_second_factor_code_is_a_failed_sign_in_of_the_account(api, user):
    from tests.mfa import totp_enrol

    totp_enrol(user)
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    step = api.post(reverse("api:accounts:login"), body, format="json")
    assert step.status_code == 403, step.content
    wrong = {"mfa_token": step.json()["mfa_token"], "method": "totp", "code": "000000"}
    with failures_subscribed():
        response = api.post(reverse("api:accounts:login_mfa"), wrong, format="json")
    assert response.status_code == 400, response.content

    event = _one("sign_in.failed")
    assert event.subject_public_id == user.public_id
    assert event.data["outcome"] == "bad_code"
    assert "000000" not in json.dumps(event.data)
