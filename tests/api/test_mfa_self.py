"""Second factors over the API, self-service: the authenticator app and recovery codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.errors import FactorCodeInvalid
from accounts.models import Passkey, RecoveryCode, TotpDevice, User, UserSession
from accounts.services import mfa
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import totp_enrol, totp_fresh_code
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def _stale(user: User) -> None:
    """The user's sign-ins were proven longer ago than REAUTHENTICATION_SECONDS."""
    long_ago = timezone.now() - timedelta(hours=1)
    UserSession.objects.filter(user=user).update(created_at=long_ago, proven_at=long_ago)


def _start(api, **proof) -> pyotp.TOTP:
    response = api.post(url("me_mfa_totp"), proof, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri"}
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert "no-store" in response["Cache-Control"]
    return pyotp.TOTP(body["secret"])


def test_me_mfa_lists_nothing_for_a_new_account(user_api):
    response = user_api.get(url("me_mfa"))
    assert response.status_code == 200
    assert response.json() == {
        "totp": {"enrolled": False, "created_at": None, "last_used_at": None},
        "passkeys": [],
        "recovery_codes_left": 0,
    }


def test_me_mfa_lists_factors_and_never_a_secret(user_api, user):
    app = totp_enrol(user)
    Passkey.objects.create(user=user, name="Laptop", credential_id="cred-1", public_key=b"k")
    body = user_api.get(url("me_mfa")).json()
    device = TotpDevice.objects.get(user=user)
    assert body["totp"]["enrolled"] is True
    assert body["totp"]["created_at"]
    assert body["recovery_codes_left"] == 10
    passkey = Passkey.objects.get(user=user)
    assert body["passkeys"] == [
        {
            "id": str(passkey.public_id),
            "name": "Laptop",
            "created_at": body["passkeys"][0]["created_at"],
            "last_used_at": None,
        }
    ]
    text = user_api.get(url("me_mfa")).content.decode()
    assert app.secret not in text
    assert device.secret_encrypted not in text
    assert "cred-1" not in text


def test_me_mfa_app_last_used_is_a_sign_in_or_a_proof_not_its_confirmation(user_api, user):
    app = totp_enrol(user)
    assert user_api.get(url("me_mfa")).json()["totp"]["last_used_at"] is None
    mfa.factor_prove(user=user, proof=mfa.Proof(method="totp", code=totp_fresh_code(app)))
    assert user_api.get(url("me_mfa")).json()["totp"]["last_used_at"]


def test_me_mfa_totp_enrol_confirm_gives_ten_recovery_codes_once(
    user_api, user, mailoutbox, django_capture_on_commit_callbacks
):
    app = _start(user_api)
    assert user_api.get(url("me_mfa")).json()["totp"]["enrolled"] is False  # not live yet
    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.post(url("me_mfa_totp_confirm"), {"code": app.now()}, format="json")
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert user_api.get(url("me_mfa")).json()["totp"]["enrolled"] is True
    user.refresh_from_db()
    assert user.mfa_enabled is True
    assert any("authenticator app was added" in m.body for m in mailoutbox)
    again = user_api.post(url("me_mfa_totp"), {}, format="json")
    assert_problem(again, 409, "totp_already_enrolled")


def test_me_mfa_totp_confirm_wrong_code_is_invalid_code(user_api, user):
    app = _start(user_api)
    wrong = str((int(app.now()) + 1) % 1_000_000).zfill(6)
    response = user_api.post(url("me_mfa_totp_confirm"), {"code": wrong}, format="json")
    assert_problem(response, 400, "invalid_code")
    assert_problem(
        user_api.post(url("me_mfa_totp_confirm"), {"code": "abc"}, format="json"),
        400,
        "invalid_code",
    )
    user.refresh_from_db()
    assert user.mfa_enabled is False


def test_me_mfa_totp_confirm_without_enrolment_is_invalid_code(user_api):
    response = user_api.post(url("me_mfa_totp_confirm"), {"code": "123456"}, format="json")
    assert_problem(response, 400, "invalid_code")


def test_me_mfa_totp_confirm_after_a_passkey_gives_no_new_codes(user_api, user):
    Passkey.objects.create(user=user, name="Phone", credential_id="cred-2", public_key=b"k")
    mfa.user_mfa_refresh(user=user)
    app = _start(user_api)
    response = user_api.post(url("me_mfa_totp_confirm"), {"code": app.now()}, format="json")
    assert response.json() == {"recovery_codes": []}


def test_me_mfa_totp_delete_removes_the_app_and_the_codes(
    user_api, user, mailoutbox, django_capture_on_commit_callbacks
):
    totp_enrol(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.delete(url("me_mfa_totp"))
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.mfa_enabled is False
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert user_api.get(url("me_mfa")).json()["recovery_codes_left"] == 0
    assert any("authenticator app was removed" in m.body for m in mailoutbox)
    assert_problem(user_api.delete(url("me_mfa_totp")), 404, "totp_not_enrolled")


def test_me_mfa_recovery_codes_need_a_factor(user_api):
    response = user_api.post(url("me_mfa_recovery_codes"), {}, format="json")
    assert_problem(response, 409, "factor_required")


def test_me_mfa_recovery_codes_regenerate_replaces_the_set(user_api, user):
    old = totp_enrol(user).recovery_codes
    response = user_api.post(url("me_mfa_recovery_codes"), {}, format="json")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = response.json()["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    with pytest.raises(FactorCodeInvalid):
        mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=old[0]))
    assert mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=new[0]))


# -- a recent proof for the sensitive ones -----------------------------------------------------


SENSITIVE = [
    ("post", "me_mfa_totp", False),
    ("delete", "me_mfa_totp", True),
    ("post", "me_mfa_recovery_codes", True),
]


@pytest.mark.parametrize(("method", "name", "enrolled"), SENSITIVE)
def test_me_mfa_sensitive_refused_on_a_stale_sign_in(user_api, user, method, name, enrolled):
    if enrolled:
        totp_enrol(user)
    _stale(user)
    response = getattr(user_api, method)(url(name), {}, format="json")
    assert_problem(response, 403, "reauthentication_required")
    user.refresh_from_db()
    assert user.mfa_enabled is enrolled
    assert TotpDevice.objects.filter(user=user).exists() is enrolled


@pytest.mark.parametrize(("method", "name", "enrolled"), SENSITIVE)
def test_me_mfa_sensitive_on_a_stale_sign_in_with_the_password(
    user_api, user, method, name, enrolled
):
    if enrolled:
        totp_enrol(user)
    _stale(user)
    proof = {"current_password": DEFAULT_PASSWORD}
    response = getattr(user_api, method)(url(name), proof, format="json")
    assert response.status_code in (200, 204), response.content


@pytest.mark.parametrize(
    ("method", "name"), [("delete", "me_mfa_totp"), ("post", "me_mfa_recovery_codes")]
)
def test_me_mfa_sensitive_on_a_stale_sign_in_with_a_code(user_api, user, method, name):
    app = totp_enrol(user)
    _stale(user)
    response = getattr(user_api, method)(url(name), {"code": totp_fresh_code(app)}, format="json")
    assert response.status_code in (200, 204), response.content


def test_me_mfa_wrong_proof_is_refused_and_changes_nothing(user_api, user):
    totp_enrol(user)
    _stale(user)
    wrong_password = user_api.delete(
        url("me_mfa_totp"), {"current_password": "nope"}, format="json"
    )
    assert_problem(wrong_password, 400, "incorrect_password")
    wrong_code = user_api.delete(url("me_mfa_totp"), {"code": "000000"}, format="json")
    assert_problem(wrong_code, 400, "invalid_code")
    assert TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def test_me_mfa_proof_given_makes_the_sign_in_recent_again(user_api, user):
    totp_enrol(user)
    _stale(user)
    proof = {"current_password": DEFAULT_PASSWORD}
    assert user_api.post(url("me_mfa_recovery_codes"), proof, format="json").status_code == 200
    assert user_api.delete(url("me_mfa_totp"), format="json").status_code == 204


def test_me_mfa_refuses_unknown_fields(user_api):
    response = user_api.post(url("me_mfa_totp"), {"password": DEFAULT_PASSWORD}, format="json")
    assert_problem(response, 400, "validation_error")


# -- who may call it ---------------------------------------------------------------------------


def test_me_mfa_needs_a_signed_in_user(api):
    assert api.get(url("me_mfa")).status_code == 401
    assert api.post(url("me_mfa_totp"), {}, format="json").status_code == 401
    assert api.delete(url("me_mfa_totp")).status_code == 401
    assert api.post(url("me_mfa_recovery_codes"), {}, format="json").status_code == 401


def test_me_mfa_refuses_oauth_tokens_whatever_their_scopes(client, user, user_factory, api):
    rp = register(user_factory())
    token = sign_in(client, rp, user, scope="openid read write")["access_token"]
    totp_enrol(user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for response in (
        api.get(url("me_mfa"), **auth),
        api.post(url("me_mfa_totp_confirm"), {"code": "123456"}, format="json", **auth),
        api.delete(
            url("me_mfa_totp"), {"current_password": DEFAULT_PASSWORD}, format="json", **auth
        ),
        api.post(
            url("me_mfa_recovery_codes"),
            {"current_password": DEFAULT_PASSWORD},
            format="json",
            **auth,
        ),
    ):
        assert_problem(response, 403, "insufficient_scope")
    assert TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 10


def test_me_mfa_one_user_cannot_touch_another_users_app(user, user_factory, signed_in_api):
    victim = user_factory()
    totp_enrol(victim)
    attacker_api = signed_in_api(user)
    assert_problem(attacker_api.delete(url("me_mfa_totp")), 404, "totp_not_enrolled")
    assert_problem(attacker_api.post(url("me_mfa_recovery_codes")), 409, "factor_required")
    victim.refresh_from_db()
    assert victim.mfa_enabled is True
    assert RecoveryCode.objects.filter(user=victim, used_at__isnull=True).count() == 10


def test_me_mfa_refuses_a_body_that_is_not_an_object(user_api):
    response = user_api.post(url("me_mfa_totp"), "null", content_type="application/json")
    assert_problem(response, 400, "validation_error")
    assert not TotpDevice.objects.exists()
