"""Passkeys over HTTP: sign-in with one alone, the second step, self-service, and attackers."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import LoginEvent, LoginOutcome, Passkey, PendingSignIn, UserSession
from accounts.services.mfa.pending import sign_in_pending_start
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD
from tests.passkeys import authenticator_new, passkey_enrol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = ["http://localhost:8000"]


def url(name: str, **kwargs) -> str:
    return reverse(f"api:accounts:{name}", kwargs=kwargs)


def _passkey_sign_in(api, authenticator):
    options = api.post(url("passkey_options"), format="json")
    assert options.status_code == 200
    assert options["Cache-Control"].startswith("max-age=0")
    credential = authenticator.get(options.json())
    return api.post(url("passkey"), {"credential": credential}, format="json"), credential


def test_passkey_sign_in_returns_tokens_proven_by_the_passkey(api, user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    response, _credential = _passkey_sign_in(api, authenticator)
    assert response.status_code == 200, response.content
    body = response.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    session = UserSession.objects.get(pk=claims["sid"])
    assert session.user == user
    assert session.amr == "hwk"
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS, amr="hwk").exists()
    assert "id_token" in body


def test_passkey_sign_in_options_are_discoverable(api):
    options = api.post(url("passkey_options"), format="json").json()
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []


def test_passkey_sign_in_replayed_assertion_is_refused(api, user):
    authenticator = authenticator_new(counter=False)
    passkey_enrol(user, authenticator)
    response, credential = _passkey_sign_in(api, authenticator)
    assert response.status_code == 200
    replay = api.post(url("passkey"), {"credential": credential}, format="json")
    assert_problem(replay, 400, "passkey_invalid")
    assert UserSession.objects.filter(user=user).count() == 1


def test_passkey_sign_in_unknown_credential_answers_like_a_wrong_signature(api, user):
    stranger = authenticator_new()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "eA"})
    unknown, _ = _passkey_sign_in(api, stranger)
    known = authenticator_new(user_verified=False)
    passkey_enrol(user, authenticator_new())  # a real passkey exists, but not this one
    known.credentials = dict(stranger.credentials)
    bad, _ = _passkey_sign_in(api, known)
    assert unknown.json() == bad.json()
    assert_problem(unknown, 400, "passkey_invalid")


def test_passkey_sign_in_refuses_garbage(api):
    for credential in ({}, {"id": "abc"}, "a string", None):
        response = api.post(url("passkey"), {"credential": credential}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] in {"passkey_invalid", "validation_error"}


def test_passkey_second_step_options_list_the_users_passkeys(api, user):
    passkey_enrol(user, authenticator_new())
    # The login API's 403 mfa_required body carries mfa_token (the mfa-login branch); the token
    # it hands out is the pending step's, started here as the password step does.
    token = sign_in_pending_start(user=user, channel="api", identifier=user.username, amr="pwd")
    options = api.post(url("login_mfa_webauthn_options"), {"mfa_token": token}, format="json")
    assert options.status_code == 200
    listed = [c["id"] for c in options.json()["allowCredentials"]]
    assert listed == [Passkey.objects.get(user=user).credential_id]
    assert options.json()["userVerification"] == "required"
    # POST /auth/login/mfa/ {method: "webauthn"} is the mfa-login endpoint's (another branch);
    # the service it calls is covered in tests/accounts/test_passkeys.py.


def test_passkey_second_step_options_refuse_a_spent_mfa_token(api, user):
    passkey_enrol(user, authenticator_new())
    token = sign_in_pending_start(user=user, channel="api", identifier=user.username, amr="pwd")
    PendingSignIn.objects.update(used_at=timezone.now())
    response = api.post(url("login_mfa_webauthn_options"), {"mfa_token": token}, format="json")
    assert_problem(response, 400, "mfa_token_invalid")


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 300])
def test_passkey_second_step_options_refuse_a_bad_mfa_token(api, token):
    response = api.post(url("login_mfa_webauthn_options"), {"mfa_token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"mfa_token_invalid", "validation_error"}


def test_passkey_second_step_options_refuse_a_browser_pending_step(api, client, user):
    passkey_enrol(user, authenticator_new())
    token = sign_in_pending_start(user=user, channel="browser", identifier=user.username, amr="pwd")
    response = api.post(url("login_mfa_webauthn_options"), {"mfa_token": token}, format="json")
    assert_problem(response, 400, "mfa_token_invalid")


def _register(client, authenticator, name="Laptop", **extra):
    options = client.post(url("me_passkeys_options"), format="json")
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json())
    return client.post(
        url("me_passkeys"), {"name": name, "credential": credential, **extra}, format="json"
    )


def test_me_passkeys_register_list_rename_delete(user, user_api):
    created = _register(user_api, authenticator_new())
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {
        "id",
        "name",
        "created_at",
        "last_used_at",
        "backup_eligible",
        "backed_up",
        "recovery_codes",
    }
    assert len(body["recovery_codes"]) == 10
    listed = user_api.get(url("me_passkeys")).json()
    assert [p["id"] for p in listed] == [body["id"]]
    assert "public_key" not in listed[0]
    renamed = user_api.patch(
        url("me_passkey", passkey_id=body["id"]), {"name": "Old"}, format="json"
    )
    assert renamed.json()["name"] == "Old"
    deleted = user_api.delete(url("me_passkey", passkey_id=body["id"]), format="json")
    assert deleted.status_code == 204
    assert not Passkey.objects.filter(user=user).exists()


def _age_sign_ins(user):
    UserSession.objects.filter(user=user).update(proven_at=timezone.now() - timedelta(hours=1))


def test_me_passkeys_register_needs_a_recent_proof(user, user_api):
    _age_sign_ins(user)
    response = _register(user_api, authenticator_new())
    assert_problem(response, 403, "reauthentication_required")
    assert not Passkey.objects.filter(user=user).exists()
    again = _register(user_api, authenticator_new(), current_password=DEFAULT_PASSWORD)
    assert again.status_code == 201


def test_me_passkeys_register_wrong_password_is_refused(user, user_api):
    _age_sign_ins(user)
    response = _register(user_api, authenticator_new(), current_password="not the password")
    assert_problem(response, 400, "incorrect_password")


def test_me_passkeys_delete_needs_a_recent_proof(user, user_api):
    passkey, _codes = passkey_enrol(user, authenticator_new())
    _age_sign_ins(user)
    response = user_api.delete(url("me_passkey", passkey_id=passkey.public_id), format="json")
    assert_problem(response, 403, "reauthentication_required")
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_me_passkeys_another_users_passkey_is_not_found(user_api, user_factory):
    victim = user_factory()
    passkey, _codes = passkey_enrol(victim, authenticator_new())
    target = url("me_passkey", passkey_id=passkey.public_id)
    assert_problem(
        user_api.patch(target, {"name": "mine"}, format="json"), 404, "passkey_not_found"
    )
    assert_problem(user_api.delete(target, format="json"), 404, "passkey_not_found")
    passkey.refresh_from_db()
    assert passkey.name == "Laptop"


def test_me_passkeys_registration_with_anothers_options_is_refused(user, user_api, user_factory):
    from accounts.services.mfa import passkeys

    victim_options = passkeys.passkey_registration_options(user=user_factory())
    credential = authenticator_new().create(victim_options)
    response = user_api.post(
        url("me_passkeys"), {"name": "x", "credential": credential}, format="json"
    )
    assert_problem(response, 400, "passkey_invalid")


def test_me_passkeys_duplicate_name_is_a_conflict(user, user_api):
    assert _register(user_api, authenticator_new(), name="Laptop").status_code == 201
    assert_problem(
        _register(user_api, authenticator_new(), name="laptop"), 409, "passkey_name_exists"
    )


def test_me_passkeys_need_a_signed_in_user(api):
    assert api.post(url("me_passkeys_options"), format="json").status_code == 401
    assert api.get(url("me_passkeys")).status_code == 401


def test_passkey_sign_in_is_throttled(api, settings):
    for _ in range(40):
        response = api.post(url("passkey_options"), format="json")
        if response.status_code == 429:
            break
    assert_problem(response, 429, response.json()["code"])


def test_passkey_sign_in_query_budget(api, user, django_assert_max_num_queries):
    """Challenge spent with the passkey, its user and profile read (one statement), its
    count, the account's failure count (none: axes has nothing to reset), the event, the
    session: no more as the tables grow."""
    from accounts.services.mfa.passkeys import passkey_sign_in_options

    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    first = {"credential": authenticator.get(passkey_sign_in_options())}
    assert api.post(url("passkey"), first, format="json").status_code == 200  # caches warm
    body = {"credential": authenticator.get(passkey_sign_in_options())}
    with django_assert_max_num_queries(5):
        response = api.post(url("passkey"), body, format="json")
    assert response.status_code == 200


def test_passkey_sign_in_resets_the_accounts_failed_password_count(api, user):
    from axes.models import AccessAttempt

    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    for _ in range(3):
        wrong = {"login": user.username, "password": "not the password"}
        assert api.post(url("login"), wrong, format="json").status_code == 401
    assert AccessAttempt.objects.filter(username=user.username.lower()).exists()
    response, _credential = _passkey_sign_in(api, authenticator)
    assert response.status_code == 200
    assert not AccessAttempt.objects.filter(username=user.username.lower()).exists()
