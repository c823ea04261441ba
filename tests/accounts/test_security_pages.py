"""The security pages (/accounts/security/...) and forced enrolment (/accounts/login/enrol/)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    AuthMethod,
    Channel,
    LoginEvent,
    LoginOutcome,
    PendingSignIn,
    RecoveryCode,
    TotpDevice,
    User,
    UserSession,
)
from accounts.services import mfa
from accounts.services.mfa.pending import PENDING_SESSION_KEY, sign_in_pending_start
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import totp_enrol

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:security")
TOTP = reverse("accounts:security_totp")
CODES = reverse("accounts:security_recovery_codes")
DOWNLOAD = reverse("accounts:security_recovery_codes_download")
ENROL = reverse("accounts:login_enrol")
LOGIN = reverse("accounts:login")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _signed_in(client: Client, user: User) -> Client:
    response = client.post(LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def _stale(user: User) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    UserSession.objects.filter(user=user).update(created_at=long_ago, proven_at=long_ago)


def _secret(response) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', response.content.decode())
    assert match, "the key is shown as text"
    return match.group(1).replace(" ", "")


def _sent_to_reauthenticate(response, back: str) -> bool:
    """Where a stale sign-in goes: the re-authentication page coming back to ``back``."""
    target = urlsplit(response["Location"])
    return target.path == reverse("accounts:reauthenticate") and parse_qs(target.query).get(
        "next"
    ) == [back]


# -- the overview ------------------------------------------------------------------------------


def test_security_page_needs_a_signed_in_user(client):
    response = client.get(SECURITY)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_security_page_shows_the_app_and_the_codes_left(client, user):
    _signed_in(client, user)
    page = client.get(SECURITY).content.decode()
    assert "Not set up." in page
    assert "Add an authenticator app" in page
    totp_enrol(user)
    page = client.get(SECURITY).content.decode()
    assert "Remove authenticator app" in page
    assert "10 unused recovery codes left." in page
    assert "not used to sign in yet" in page


def test_security_page_warns_when_two_codes_or_fewer_are_left(client, user):
    codes = totp_enrol(user).recovery_codes
    for code in codes[:8]:
        mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=code))
    client.force_login(user)
    page = client.get(SECURITY).content.decode()
    assert "Only 2 recovery codes left." in page
    assert "Make new recovery codes" in page


# -- adding an authenticator app -------------------------------------------------------------


def test_totp_page_shows_a_qr_code_and_the_key_as_text(client, user):
    _signed_in(client, user)
    response = client.get(TOTP)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<svg width="' in page
    assert 'class="qr"' in page
    assert "<?xml" not in page
    assert " style=" not in page  # the CSP forbids inline styles
    assert "no-store" in response["Cache-Control"]
    secret = _secret(response)
    assert len(secret) == 32
    assert re.search(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", page)  # grouped in fours
    assert _secret(client.get(TOTP)) == secret  # a reload keeps the QR code just scanned


def test_totp_page_confirm_shows_the_recovery_codes_once(client, user):
    _signed_in(client, user)
    app = pyotp.TOTP(_secret(client.get(TOTP)))
    response = client.post(TOTP, {"code": app.now()})
    assert response["Location"] == CODES
    page = client.get(CODES)
    codes = re.findall(r"<li><code>([a-z2-7-]{14})</code></li>", page.content.decode())
    assert len(codes) == 10
    assert "no-store" in page["Cache-Control"]
    assert "Authenticator app added." in _messages(page)
    assert mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=codes[0]))

    again = client.get(CODES)
    assert again["Location"] == SECURITY
    assert codes[1] not in client.get(SECURITY).content.decode()


def test_recovery_codes_download_once_as_a_text_attachment(client, user):
    _signed_in(client, user)
    app = pyotp.TOTP(_secret(client.get(TOTP)))
    client.post(TOTP, {"code": app.now()})
    shown = re.findall(r"<code>([a-z2-7-]{14})</code>", client.get(CODES).content.decode())

    download = client.get(DOWNLOAD)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/plain")
    assert download["Content-Disposition"] == 'attachment; filename="recovery-codes.txt"'
    assert "no-store" in download["Cache-Control"]
    body = download.content.decode()
    assert all(code in body for code in shown)
    assert client.get(DOWNLOAD)["Location"] == SECURITY  # served once

    done = client.post(CODES)
    assert done["Location"] == SECURITY
    assert "Remove authenticator app" in client.get(SECURITY).content.decode()


def test_totp_page_wrong_code_keeps_the_same_key(client, user):
    _signed_in(client, user)
    secret = _secret(client.get(TOTP))
    wrong = str((int(pyotp.TOTP(secret).now()) + 7) % 1_000_000).zfill(6)
    response = client.post(TOTP, {"code": wrong})
    assert response.status_code == 200
    assert "The code is not valid." in response.content.decode()
    assert _secret(response) == secret
    user.refresh_from_db()
    assert user.mfa_enabled is False


def test_totp_page_with_an_app_already_goes_back(client, user):
    _signed_in(client, user)
    totp_enrol(user)
    response = client.get(TOTP)
    assert response["Location"] == SECURITY
    assert "already set up" in " ".join(_messages(response))


def test_totp_page_on_a_stale_sign_in_asks_for_a_proof_first(client, user):
    _signed_in(client, user)
    _stale(user)
    response = client.get(TOTP)
    assert response.status_code == 302
    assert _sent_to_reauthenticate(response, TOTP)
    assert not TotpDevice.objects.filter(user=user).exists()  # no seed made


def test_totp_remove(client, user):
    _signed_in(client, user)
    totp_enrol(user)
    response = client.post(reverse("accounts:security_totp_remove"))
    assert response["Location"] == SECURITY
    assert "Authenticator app removed." in _messages(response)
    user.refresh_from_db()
    assert user.mfa_enabled is False
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_totp_remove_on_a_stale_sign_in_changes_nothing(client, user):
    _signed_in(client, user)
    totp_enrol(user)
    _stale(user)
    response = client.post(reverse("accounts:security_totp_remove"))
    assert _sent_to_reauthenticate(response, SECURITY)
    assert TotpDevice.objects.filter(user=user).exists()


def test_totp_remove_needs_post(client, user):
    _signed_in(client, user)
    totp_enrol(user)
    assert client.get(reverse("accounts:security_totp_remove")).status_code == 405
    assert TotpDevice.objects.filter(user=user).exists()


def test_recovery_codes_regenerate_replaces_the_set(client, user):
    _signed_in(client, user)
    old = totp_enrol(user).recovery_codes
    response = client.post(reverse("accounts:security_recovery_codes_regenerate"))
    assert response["Location"] == CODES
    new = re.findall(r"<code>([a-z2-7-]{14})</code>", client.get(CODES).content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    proof = mfa.Proof(method="recovery_code", code=old[0])
    with pytest.raises(mfa.FactorCodeInvalid):
        mfa.factor_prove(user=user, proof=proof)


def test_new_recovery_codes_wait_in_the_session_only_encrypted(client, user):
    _signed_in(client, user)
    totp_enrol(user)
    client.post(reverse("accounts:security_recovery_codes_regenerate"))
    stored = str(dict(client.session.items()))
    shown = re.findall(r"<code>([a-z2-7-]{14})</code>", client.get(CODES).content.decode())
    assert len(shown) == 10
    assert not any(code in stored or code.replace("-", "") in stored for code in shown)


def test_recovery_codes_regenerate_without_a_factor_is_refused(client, user):
    _signed_in(client, user)
    response = client.post(reverse("accounts:security_recovery_codes_regenerate"))
    assert response["Location"] == SECURITY
    assert "Set up an authenticator app or a passkey first." in _messages(response)


# -- forced enrolment --------------------------------------------------------------------------


def _pending_enrol(client: Client, user: User, *, purpose: str = PendingSignIn.Purpose.ENROL):
    """What the sign-in page leaves behind after a right password (the signin step)."""
    token = sign_in_pending_start(
        user=user,
        channel=Channel.BROWSER,
        identifier=user.username,
        amr=AuthMethod.PASSWORD,
        purpose=purpose,
    )
    session = client.session
    session[PENDING_SESSION_KEY] = token
    session.save()
    return token


def test_login_enrol_without_a_pending_step_goes_to_login(client):
    response = client.get(ENROL)
    assert response["Location"] == LOGIN
    assert _messages(response)


def test_login_enrol_refuses_a_verify_step(client, user):
    totp_enrol(user)
    _pending_enrol(client, user, purpose=PendingSignIn.Purpose.VERIFY)
    response = client.get(ENROL)
    assert response["Location"] == LOGIN
    assert not TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).exists()


def test_login_enrol_expired_step_goes_to_login(client, user):
    _pending_enrol(client, user)
    PendingSignIn.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(ENROL + "?next=/accounts/profile/")
    assert response["Location"] == LOGIN + "?next=%2Faccounts%2Fprofile%2F"
    assert "expired" in " ".join(_messages(response))


def test_login_enrol_signs_in_only_after_the_app_is_confirmed(client, user):
    _pending_enrol(client, user)
    page = client.get(ENROL + "?next=/accounts/profile/")
    assert page.status_code == 200
    assert "Set up a second factor" in page.content.decode()
    assert "_auth_user_id" not in client.session
    assert not UserSession.objects.filter(user=user).exists()

    app = pyotp.TOTP(_secret(page))
    response = client.post(ENROL, {"code": app.now(), "next": "/accounts/profile/"})
    assert response["Location"] == CODES
    assert client.session["_auth_user_id"] == str(user.pk)
    session = UserSession.objects.get(user=user)
    assert session.amr == "pwd otp"
    assert LoginEvent.objects.get(user=user, outcome=LoginOutcome.SUCCESS).amr == "pwd otp"
    assert PENDING_SESSION_KEY not in client.session
    codes = re.findall(r"<code>([a-z2-7-]{14})</code>", client.get(CODES).content.decode())
    assert len(codes) == 10
    assert client.post(CODES)["Location"] == "/accounts/profile/"


def test_login_enrol_wrong_codes_count_and_end_the_step(client, user, settings):
    _pending_enrol(client, user)
    secret = _secret(client.get(ENROL))
    wrong = str((int(pyotp.TOTP(secret).now()) + 7) % 1_000_000).zfill(6)
    for _ in range(settings.MFA_MAX_ATTEMPTS - 1):
        response = client.post(ENROL, {"code": wrong})
        assert response.status_code == 200
        assert "The code is not valid." in response.content.decode()
    # The fifth wrong code counts like a fifth wrong password: the username + IP pair is
    # locked out (django-axes' 429 page), and the step itself is dead.
    response = client.post(ENROL, {"code": wrong})
    assert response.status_code == 429
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).count() == 5
    assert "_auth_user_id" not in client.session
    # The step is dead: even the right code no longer signs in.
    right = client.post(ENROL, {"code": pyotp.TOTP(secret).now()})
    assert right["Location"] == LOGIN
    assert not UserSession.objects.filter(user=user).exists()


def test_login_enrol_step_of_another_browser_is_not_reachable(client, user):
    _pending_enrol(Client(), user)  # someone else's browser holds the token
    response = client.get(ENROL)
    assert response["Location"] == LOGIN


def test_login_enrol_is_rate_limited_as_the_sign_in_form_is(client, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_identifier": "2/min"}
    _pending_enrol(client, user)
    assert client.post(ENROL, {"code": "000000"}).status_code == 200
    assert client.post(ENROL, {"code": "000000"}).status_code == 200
    limited = client.post(ENROL, {"code": "000000"})
    assert limited.status_code == 429
    assert "Retry-After" in limited
    assert "_auth_user_id" not in client.session


def test_totp_page_confirm_after_the_proof_went_stale_still_works(client, user):
    _signed_in(client, user)
    app = pyotp.TOTP(_secret(client.get(TOTP)))
    _stale(user)  # the user took their time scanning
    response = client.post(TOTP, {"code": app.now()})
    assert response["Location"] == CODES
    user.refresh_from_db()
    assert user.mfa_enabled is True
