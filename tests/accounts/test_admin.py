"""The admin goes through the services: creation, actions, read-only history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import LoginEvent, Profile, User, UserSession
from tests.factories import DEFAULT_PASSWORD, LoginEventFactory, UserSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(superuser=True))
    return client


def test_admin_add_user_with_temporary_password_goes_through_the_service(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_user_add"),
            {
                "username": "newhire",
                "email": "NewHire@Example.com",
                "user_type": "employee",
                "password": DEFAULT_PASSWORD,
                "email_verified": "on",
            },
        )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(username="newhire")
    assert user.email == "newhire@example.com"
    assert user.must_change_password
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.email_verified_at is not None
    assert Profile.objects.filter(user=user).exists()
    assert mailoutbox == []


def test_admin_add_user_without_password_sends_invitation(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:accounts_user_add"),
            {"username": "invitee", "email": "invitee@example.com", "user_type": "customer"},
        )
    assert not User.objects.get(username="invitee").has_usable_password()
    assert [m.to for m in mailoutbox] == [["invitee@example.com"]]


def test_admin_add_user_refuses_duplicate_email_ignoring_case(admin_client, user_factory):
    user_factory(email="dup@example.com")
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"username": "another", "email": "DUP@example.com", "user_type": "customer"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="another").exists()


def test_admin_user_list_searches_and_filters(admin_client, user_factory):
    user_factory(username="findme", unverified=True)
    user_factory(username="other")
    url = reverse("admin:accounts_user_changelist")
    assert b"findme" in admin_client.get(url, {"q": "findm"}).content
    page = admin_client.get(url, {"verified": "no"}).content
    assert b"findme" in page
    assert b">other<" not in page


def _act(admin_client, action: str, users: list[User]):
    return admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [u.pk for u in users]},
    )


def test_admin_actions_call_services(admin_client, user_factory, mailoutbox):
    target = user_factory(unverified=True)
    session = UserSessionFactory(user=target)
    _act(admin_client, "mark_email_verified", [target])
    _act(admin_client, "require_password_change", [target])
    _act(admin_client, "send_password_reset", [target])
    _act(admin_client, "deactivate", [target])
    target.refresh_from_db()
    assert target.email_verified_at is not None
    assert target.must_change_password
    assert not target.is_active
    assert UserSession.objects.get(pk=session.pk).revoked_at is not None
    assert [m.to for m in mailoutbox] == [[target.email]]


def test_admin_login_history_is_read_only(admin_client):
    event = LoginEventFactory()
    url = reverse("admin:accounts_loginevent_change", args=[event.pk])
    assert admin_client.get(reverse("admin:accounts_loginevent_changelist")).status_code == 200
    admin_client.post(url, {"outcome": "success", "identifier": "forged"})
    assert LoginEvent.objects.get(pk=event.pk).identifier == event.identifier
    delete = admin_client.post(reverse("admin:accounts_loginevent_delete", args=[event.pk]))
    assert delete.status_code == 403
    assert LoginEvent.objects.filter(pk=event.pk).exists()


def test_admin_email_domain_rule_is_stored_lowercase(admin_client):
    admin_client.post(
        reverse("admin:accounts_emaildomainrule_add"), {"domain": "Corp.COM.", "action": "allow"}
    )
    from accounts.models import EmailDomainRule

    assert EmailDomainRule.objects.get().domain == "corp.com"


def test_admin_login_is_locked_out_like_the_sign_in_page(client, user_factory):
    staff = user_factory(superuser=True)
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": staff.username, "password": "wrong"})
    response = client.post(url, {"username": staff.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "Try again in <strong>15 minutes</strong>" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_sign_in_is_recorded_and_listed_as_a_session(client, user_factory):
    from accounts.models import LoginEvent, UserSession

    staff = user_factory(superuser=True)
    response = client.post(
        reverse("admin:login"),
        {"username": staff.email, "password": DEFAULT_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    event = LoginEvent.objects.get(user=staff)
    assert (event.channel, event.outcome) == ("admin", "success")
    session = UserSession.objects.get(user=staff)
    assert session.channel == "admin"
    assert session.session_key == client.session.session_key


def test_admin_login_refuses_non_staff_and_records_it(client, user_factory):
    from accounts.models import LoginEvent

    user = user_factory()
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": "wrong password"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert LoginEvent.objects.get().outcome == "bad_credentials"


def test_admin_login_with_the_right_password_of_a_non_staff_user_is_a_failure(client, user_factory):
    user = user_factory()
    url = reverse("admin:login")
    wrong = client.post(url, {"username": user.username, "password": "wrong password"})
    right = client.post(url, {"username": user.username, "password": DEFAULT_PASSWORD})
    assert right.status_code == 200
    assert "_auth_user_id" not in client.session
    assert not UserSession.objects.filter(user=user).exists()
    assert not LoginEvent.objects.filter(user=user, outcome="success").exists()
    # Same answer as a wrong password: the form does not tell that the password was right.
    assert right.context["form"].errors == wrong.context["form"].errors


def test_admin_login_by_a_non_staff_user_counts_towards_lockout_and_resets_nothing(
    client, user_factory
):
    from axes.models import AccessAttempt

    user = user_factory()
    url = reverse("admin:login")
    for _ in range(4):
        client.post(url, {"username": user.username, "password": "wrong password"})
    client.post(url, {"username": user.username, "password": DEFAULT_PASSWORD})
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 5
    page = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert page.status_code == 429
