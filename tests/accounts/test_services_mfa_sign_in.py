"""The second sign-in step in the services: the pending step's lifecycle, TOTP and recovery
codes as sign-in proofs, lockout, and what a completed sign-in records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from accounts import services
from accounts.errors import (
    AccountLocked,
    FactorCodeInvalid,
    InvalidCredentials,
    MfaRequired,
    MfaTokenInvalid,
)
from accounts.models import Channel, LoginEvent, LoginOutcome, PendingSignIn, UserSession
from accounts.services.login import sign_in_complete
from accounts.services.mfa import Proof
from accounts.services.mfa.pending import sign_in_factor_prove, sign_in_pending_get
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import totp_code, totp_fresh_code

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IP = "203.0.113.7"


def _request(ip: str = IP):
    return RequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR=ip, HTTP_USER_AGENT=UA)


def _password_step(user, ip: str = IP, password: str = DEFAULT_PASSWORD) -> MfaRequired:
    with pytest.raises(MfaRequired) as raised:
        services.user_authenticate(
            request=_request(ip), login=user.username, password=password, channel=Channel.API
        )
    return raised.value


def _prove(token: str, code: str, method: str = "totp", ip: str = IP) -> str:
    pending = sign_in_pending_get(token=token, channel=Channel.API)
    return sign_in_factor_prove(
        request=_request(ip), pending=pending, proof=Proof(method=method, code=code)
    )


def _complete(token: str, code: str, method: str = "totp"):
    request = _request()
    pending = sign_in_pending_get(token=token, channel=Channel.API)
    amr = sign_in_factor_prove(request=request, pending=pending, proof=Proof(method, code))
    return sign_in_complete(request=request, pending=pending, amr=amr)


def test_password_step_with_a_factor_records_no_session_and_no_success(totp_user):
    user, _app = totp_user
    step = _password_step(user)
    assert step.methods == ["totp", "recovery_code"]
    assert not UserSession.objects.filter(user=user).exists()
    assert not LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS).exists()
    pending = PendingSignIn.objects.get(user=user)
    assert pending.token_hash != step.mfa_token  # stored as a digest only
    assert pending.expires_at - pending.created_at == timedelta(minutes=5)


def test_sign_in_complete_stores_amr_on_session_and_event(totp_user):
    user, app = totp_user
    signed_in, event = _complete(_password_step(user).mfa_token, totp_fresh_code(app))
    assert signed_in == user
    assert (event.outcome, event.amr, event.channel) == (LoginOutcome.SUCCESS, "pwd otp", "api")


def test_sign_in_complete_with_a_recovery_code_stores_rc(totp_user, mailoutbox):
    user, app = totp_user
    _user, event = _complete(_password_step(user).mfa_token, app.recovery_codes[0], "recovery_code")
    assert event.amr == "pwd rc"


def test_pending_step_is_used_once(totp_user):
    user, app = totp_user
    token = _password_step(user).mfa_token
    _complete(token, totp_fresh_code(app))
    with pytest.raises(MfaTokenInvalid):
        sign_in_pending_get(token=token, channel=Channel.API)


def test_pending_step_expires(totp_user):
    user, _app = totp_user
    token = _password_step(user).mfa_token
    PendingSignIn.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(MfaTokenInvalid):
        sign_in_pending_get(token=token, channel=Channel.API)


def test_pending_step_dies_after_five_wrong_codes(totp_user, settings):
    settings.AXES_FAILURE_LIMIT = 100
    user, _app = totp_user
    token = _password_step(user).mfa_token
    for _ in range(5):
        with pytest.raises(FactorCodeInvalid):
            _prove(token, "000000")
    with pytest.raises(MfaTokenInvalid):
        sign_in_pending_get(token=token, channel=Channel.API)
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).count() == 5


def test_pending_step_of_a_deactivated_account_is_dead(totp_user):
    user, _app = totp_user
    token = _password_step(user).mfa_token
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(MfaTokenInvalid):
        sign_in_pending_get(token=token, channel=Channel.API)


def test_pending_step_of_another_channel_is_refused(totp_user):
    user, _app = totp_user
    token = _password_step(user).mfa_token
    with pytest.raises(MfaTokenInvalid):
        sign_in_pending_get(token=token, channel=Channel.BROWSER)


def test_totp_code_is_not_accepted_twice(totp_user):
    user, app = totp_user
    code = totp_fresh_code(app)
    assert _prove(_password_step(user).mfa_token, code) == "otp"
    with pytest.raises(FactorCodeInvalid):
        _prove(_password_step(user).mfa_token, code)


@pytest.mark.parametrize("steps", [-1, 1])
def test_totp_clock_skew_of_one_step_is_accepted(totp_user, steps):
    user, app = totp_user
    from accounts.models import TotpDevice

    TotpDevice.objects.update(last_used_step=None)  # enrolment spent the current step
    assert _prove(_password_step(user).mfa_token, totp_code(app, steps=steps)) == "otp"


@pytest.mark.parametrize("steps", [-2, 2])
def test_totp_clock_skew_of_two_steps_is_refused(totp_user, steps):
    user, app = totp_user
    with pytest.raises(FactorCodeInvalid):
        _prove(_password_step(user).mfa_token, totp_code(app, steps=steps))


def test_recovery_code_works_once(totp_user):
    user, app = totp_user
    code = app.recovery_codes[0]
    assert _prove(_password_step(user).mfa_token, code, "recovery_code") == "rc"
    with pytest.raises(FactorCodeInvalid):
        _prove(_password_step(user).mfa_token, code, "recovery_code")


def test_recovery_code_of_another_user_is_refused(totp_user, user_factory):
    user, _app = totp_user
    from tests.mfa import totp_enrol

    other_code = totp_enrol(user_factory()).recovery_codes[0]
    with pytest.raises(FactorCodeInvalid):
        _prove(_password_step(user).mfa_token, other_code, "recovery_code")


def test_wrong_codes_lock_out_the_username_and_ip_only(totp_user):
    user, app = totp_user
    for attempt in range(5):
        token = _password_step(user).mfa_token
        expected = AccountLocked if attempt == 4 else FactorCodeInvalid
        with pytest.raises(expected):
            _prove(token, "000000")
    # Locked on this address, for the password step as for a code.
    with pytest.raises(AccountLocked):
        services.user_authenticate(
            request=_request(), login=user.username, password=DEFAULT_PASSWORD, channel="api"
        )
    # Another address is not locked out.
    token = _password_step(user, ip="198.51.100.9").mfa_token
    assert _prove(token, totp_fresh_code(app), ip="198.51.100.9") == "otp"


def test_wrong_password_answers_the_same_with_or_without_a_factor(totp_user, user_factory):
    with_factor, _app = totp_user
    without = user_factory()
    errors = []
    for account in (with_factor, without):
        with pytest.raises(InvalidCredentials) as raised:
            services.user_authenticate(
                request=_request(), login=account.username, password="wrong 123", channel="api"
            )
        errors.append((raised.value.code, raised.value.status, raised.value.message))
    assert errors[0] == errors[1]
    assert not PendingSignIn.objects.exists()


def test_new_device_alert_names_the_factor(
    totp_user, login_event_factory, mailoutbox, django_capture_on_commit_callbacks
):
    user, app = totp_user
    login_event_factory(
        user=user, outcome=LoginOutcome.SUCCESS, ip="192.0.2.1", device_label="Safari on iPhone"
    )
    token = _password_step(user).mfa_token
    with django_capture_on_commit_callbacks(execute=True):
        _complete(token, totp_fresh_code(app))
    alerts = [mail for mail in mailoutbox if "new sign-in" in mail.subject.lower()]
    assert len(alerts) == 1
    assert "Password + Authenticator app" in alerts[0].body
    assert app.now() not in alerts[0].body
