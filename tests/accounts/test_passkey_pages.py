"""The pages' passkey endpoints (what static/js/passkeys.js calls), through Django's client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import LoginEvent, LoginOutcome, Passkey, PendingSignIn, UserSession
from accounts.services.mfa.pending import PENDING_SESSION_KEY, sign_in_pending_start
from tests.factories import DEFAULT_PASSWORD
from tests.passkeys import authenticator_new, passkey_enrol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = ["http://localhost:8000"]


def _post(client, name, body=None, **query):
    url = reverse(f"accounts:{name}")
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, body or {}, content_type="application/json")


def _ceremony(client, authenticator, options_name, name, **query):
    options = _post(client, options_name)
    assert options.status_code == 200, options.content
    return _post(client, name, {"credential": authenticator.get(options.json())}, **query)


def test_passkey_login_signs_the_browser_in_and_goes_to_next(client, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    response = _ceremony(
        client, authenticator, "passkey_login_options", "passkey_login", next="/accounts/profile/"
    )
    assert response.json() == {"redirect": "/accounts/profile/"}
    assert client.get(reverse("accounts:profile")).status_code == 200
    session = UserSession.objects.get(user=user)
    assert session.amr == "hwk"
    assert session.channel == "browser"
    event = LoginEvent.objects.get(user=user, outcome=LoginOutcome.SUCCESS)
    assert event.amr == "hwk"


def test_passkey_login_ignores_a_next_to_another_site(client, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    response = _ceremony(
        client, authenticator, "passkey_login_options", "passkey_login", next="//evil.example/"
    )
    assert response.json() == {"redirect": reverse("home")}


def test_passkey_login_refusal_is_a_problem_and_no_sign_in(client, user):
    authenticator = authenticator_new(user_verified=False)
    passkey_enrol(user, authenticator_new())
    authenticator.credentials = {}
    authenticator.create({"rp": {"id": "localhost"}, "user": {"id": "AA"}, "challenge": "eA"})
    response = _ceremony(client, authenticator, "passkey_login_options", "passkey_login")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "passkey_invalid"
    assert not UserSession.objects.exists()


def test_passkey_login_refuses_a_request_without_the_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert _post(client, "passkey_login_options").status_code == 403


def test_passkey_login_refuses_a_body_that_is_not_a_json_object(client):
    response = client.post(
        reverse("accounts:passkey_login"), "[1]", content_type="application/json"
    )
    assert response.json()["code"] == "invalid_json"


def _pending_browser(client, user, channel: str = "browser") -> str:
    token = sign_in_pending_start(user=user, channel=channel, identifier=user.username, amr="pwd")
    session = client.session
    session[PENDING_SESSION_KEY] = token
    session.save()
    return token


def test_passkey_verify_finishes_the_pending_sign_in(client, totp_user):
    user, _app = totp_user
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    _pending_browser(client, user)
    response = _ceremony(client, authenticator, "passkey_verify_options", "passkey_verify")
    assert response.json() == {"redirect": reverse("home")}
    assert UserSession.objects.get(user=user).amr == "pwd hwk"
    assert PendingSignIn.objects.get(user=user).used_at is not None
    assert client.get(reverse("accounts:security")).status_code == 200


def test_passkey_verify_finishes_an_admin_sign_in_into_the_admin(client, user_factory):
    staff = user_factory(staff=True)
    authenticator = authenticator_new()
    passkey_enrol(staff, authenticator)
    _pending_browser(client, staff, channel="admin")
    response = _ceremony(client, authenticator, "passkey_verify_options", "passkey_verify")
    assert response.json() == {"redirect": reverse("admin:index")}
    session = UserSession.objects.get(user=staff)
    assert (session.channel, session.amr) == ("admin", "pwd hwk")


def test_passkey_verify_with_another_users_passkey_counts_a_failure(client, user, user_factory):
    passkey_enrol(user, authenticator_new())
    mallory = user_factory()
    mallory_key = authenticator_new()
    passkey_enrol(mallory, mallory_key)
    _pending_browser(client, user)
    options = _post(client, "passkey_verify_options").json()
    credential = mallory_key.get({**options, "allowCredentials": []})
    response = _post(client, "passkey_verify", {"credential": credential})
    assert response.json()["code"] == "invalid_code"
    assert PendingSignIn.objects.get(user=user).failures == 1
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).exists()
    assert not UserSession.objects.exists()


def test_passkey_verify_without_a_pending_step_is_refused(client):
    assert _post(client, "passkey_verify_options").json()["code"] == "mfa_token_invalid"


def test_passkey_reauthentication_renews_the_proof(client, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    client.force_login(user)
    response = _ceremony(
        client, authenticator, "passkey_reauth_options", "passkey_reauth", next="/accounts/email/"
    )
    assert response.json() == {"redirect": "/accounts/email/"}


def _signed_in(client, user):
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def test_passkey_reauthentication_is_refused_while_the_account_is_locked_out(client, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    _ceremony(client, authenticator, "passkey_login_options", "passkey_login")
    session = UserSession.objects.get(user=user)
    UserSession.objects.filter(pk=session.pk).update(proven_at=timezone.now() - timedelta(hours=1))
    for _ in range(5):
        client.post(reverse("accounts:reauthenticate"), {"password": "not the password"})
    response = _ceremony(client, authenticator, "passkey_reauth_options", "passkey_reauth")
    assert response.status_code == 429  # axes' locked-out answer
    session.refresh_from_db()
    assert session.proven_at < timezone.now() - timedelta(minutes=30)


def _stale(user):
    UserSession.objects.filter(user=user).update(proven_at=timezone.now() - timedelta(hours=1))


def test_security_passkey_add_and_first_factor_codes(client, user):
    _signed_in(client, user)
    authenticator = authenticator_new()
    options = _post(client, "passkey_add_options").json()
    response = _post(
        client, "passkey_add", {"name": "Laptop", "credential": authenticator.create(options)}
    )
    body = response.json()
    assert len(body["recovery_codes"]) == 10
    assert body["redirect"] == reverse("accounts:security")
    page = client.get(reverse("accounts:security")).content.decode()
    assert "Laptop" in page
    assert "This device only" in page


def test_security_passkey_add_needs_a_recent_proof(client, user):
    _signed_in(client, user)
    _stale(user)
    response = _post(client, "passkey_add_options")
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"


def test_security_passkey_remove_needs_a_recent_proof(client, user):
    _signed_in(client, user)
    passkey, _codes = passkey_enrol(user, authenticator_new())
    _stale(user)
    url = reverse("accounts:passkey_delete", args=[passkey.public_id])
    response = client.post(url)
    assert response.status_code in {302, 403}
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_security_passkey_remove_and_rename(client, user):
    _signed_in(client, user)
    passkey, _codes = passkey_enrol(user, authenticator_new())
    rename = reverse("accounts:passkey_rename", args=[passkey.public_id])
    client.post(rename, {"name": "Old laptop"})
    passkey.refresh_from_db()
    assert passkey.name == "Old laptop"
    client.post(reverse("accounts:passkey_delete", args=[passkey.public_id]))
    assert not Passkey.objects.filter(pk=passkey.pk).exists()


def test_security_passkey_another_users_passkey_is_untouched(client, user, user_factory):
    _signed_in(client, user)
    victim = user_factory()
    passkey, _codes = passkey_enrol(victim, authenticator_new())
    client.post(reverse("accounts:passkey_rename", args=[passkey.public_id]), {"name": "pwned"})
    client.post(reverse("accounts:passkey_delete", args=[passkey.public_id]))
    passkey.refresh_from_db()
    assert passkey.name == "Laptop"


def test_security_passkey_endpoints_need_a_signed_in_user(client):
    assert _post(client, "passkey_add_options").status_code == 302
    assert _post(client, "passkey_reauth_options").status_code == 302
