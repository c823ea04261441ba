"""Checking credentials on every channel, with lockout and login history."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from accounts.backends import RESOLVED_LOGIN_ATTR, user_for_login
from accounts.errors import (
    AccountInactive,
    AccountLocked,
    EmailNotVerified,
    FactorCodeInvalid,
    IncorrectPassword,
    InvalidCredentials,
    MfaEnrollmentRequired,
    MfaRequired,
    PasswordChangeRequired,
    ReauthenticationRequired,
)
from accounts.lockout import LOCKOUT_KEY_ATTR, lockout_key
from accounts.models import (
    AuthMethod,
    Channel,
    LoginEvent,
    LoginOutcome,
    PendingSignIn,
    User,
)
from accounts.services import events
from accounts.services.history import new_device_alert
from accounts.services.mfa import (
    METHOD_RECOVERY_CODE,
    METHOD_TOTP,
    METHOD_WEBAUTHN,
    Proof,
    factor_prove_any,
    mfa_required,
    user_factor_methods,
)
from accounts.services.mfa.amr import amr_join
from accounts.services.mfa.pending import (
    code_failure_record,
    code_lockout_check,
    sign_in_pending_start,
    sign_in_pending_use,
)
from accounts.services.sessions import (
    browser_session_start,
    request_client,
    session_proof_renew,
    user_session_recently_proven,
)
from identity import metrics
from identity.postgres import rows_insert

# The authentication backend of every password sign-in (django.contrib.auth.login needs it).
SIGN_IN_BACKEND = "accounts.backends.LoginBackend"
# The sign-ins metric's outcome of a right password that needs a second step.
_PURPOSE_OUTCOME = {
    PendingSignIn.Purpose.VERIFY: "mfa_required",
    PendingSignIn.Purpose.ENROL: LoginOutcome.MFA_ENROLLMENT_REQUIRED,
}


def user_authenticate(
    *,
    request: HttpRequest,
    login: str,
    password: str,
    channel: str,
    allow_password_change: bool = False,
    staff_only: bool = False,
) -> User:
    """Returns the user behind valid credentials, or records why not and raises.

    ``request`` must be Django's HttpRequest (for DRF, ``request._request``): django-axes
    reads the client from it and flags a locked username+IP pair on it. With ``staff_only``
    (the admin), an account that may not use the admin is refused like a wrong password.
    """
    user = _credentials_check(
        request=request,
        login=login,
        password=password,
        channel=channel,
        allow_password_change=allow_password_change,
    )
    if staff_only and not (user.is_active and user.is_staff):
        _staff_refusal(request=request, user=user, login=login, channel=channel)
    _second_step_check(user=user, login=login, channel=channel)
    _login_succeeded(request=request, user=user, login=login, channel=channel)
    return user


def browser_sign_in(*, request: HttpRequest, login: str, password: str) -> User:
    """The sign-in page: checks the credentials, then signs the browser in.

    The success event and the UserSession row are written by one statement (atomic, one
    commit); refusals are committed on their own before the error is raised, so that a
    rollback can never erase what lockout counts. An account with a second factor (or one
    that must enrol) gets MfaRequired (MfaEnrollmentRequired) carrying the pending step's
    token instead: no session, no success event yet.
    """
    user = _credentials_check(
        request=request,
        login=login,
        password=password,
        channel=Channel.BROWSER,
        allow_password_change=True,
    )
    _second_step_check(user=user, login=login, channel=Channel.BROWSER)
    event = _login_succeeded(request=request, user=user, login=login, channel=Channel.BROWSER)
    browser_session_start(request=request, user=user, event=event)
    return user


def _second_step_check(*, user: User, login: str, channel: str) -> None:
    """After the right password: an account with a factor must prove it, one that must have a
    factor and has none must enrol; either way a pending step, never a session. Free for
    everyone else: ``mfa_enabled`` is on the row already loaded, the policy check is cached."""
    if user.mfa_enabled:
        purpose, error = PendingSignIn.Purpose.VERIFY, MfaRequired()
    elif mfa_required(user=user):
        purpose, error = PendingSignIn.Purpose.ENROL, MfaEnrollmentRequired()
    else:
        return
    metrics.sign_in_record(channel=channel, outcome=_PURPOSE_OUTCOME[purpose])
    error.mfa_token = sign_in_pending_start(  # type: ignore[attr-defined]
        user=user,
        channel=channel,
        identifier=_normalised(login),
        amr=AuthMethod.PASSWORD,
        purpose=purpose,
    )
    error.methods = user_factor_methods(user=user) if user.mfa_enabled else []  # type: ignore[attr-defined]
    raise error


def sign_in_complete(
    *, request: HttpRequest, pending: PendingSignIn, amr: str
) -> tuple[User, LoginEvent]:
    """The last factor of a pending sign-in is proven (``amr`` adds what it proved): the step
    is spent (once, however many requests race) and the success recorded. The caller starts
    the channel's session with the returned event and ``event.amr`` (browser_session_start,
    accounts.tokens.api_session_start): only now does a UserSession exist."""
    sign_in_pending_use(pending=pending)
    return pending.user, sign_in_succeed(
        request=request,
        user=pending.user,
        login=pending.identifier,
        channel=pending.channel,
        amr=amr_join(pending.amr, amr),
    )


def browser_sign_in_complete(*, request: HttpRequest, pending: PendingSignIn, amr: str) -> User:
    """sign_in_complete for the browser: the Django login and its UserSession, in one go. An
    admin sign-in keeps its channel (its event is written already: not a browser one)."""
    user, event = sign_in_complete(request=request, pending=pending, amr=amr)
    # The Django login() records the backend that authenticated the user; the password was
    # checked by this one, in the pending step's first half.
    user.backend = SIGN_IN_BACKEND
    browser_session_start(
        request=request,
        user=user,
        event=event if pending.channel == Channel.BROWSER else None,
        amr=event.amr,
        channel=pending.channel,
    )
    return user


def sign_in_succeed(
    *, request: HttpRequest, user: User, login: str, channel: str, amr: str
) -> LoginEvent:
    """A sign-in proven in full by ``amr`` (a passkey alone, or every factor of a pending step):
    the success event (written here except on the browser, whose event goes in with its
    UserSession row), axes' reset and the new-device alert.

    Unless this request counted them already (a code's lockout check), the account's failures
    are counted first, with the prepared query a password sign-in uses (accounts.lockout): with
    none, axes skips its reset, which cost two ORM queries and a third of a passkey sign-in's
    CPU."""
    if settings.AXES_ENABLED and getattr(request, "_lockout_failures", None) is None:
        setattr(request, LOCKOUT_KEY_ATTR, lockout_key(login=login, user=user))
        AxesProxyHandler.get_failures(request, {"username": user.username})
    return _login_succeeded(request=request, user=user, login=login, channel=channel, amr=amr)


def _credentials_check(
    *,
    request: HttpRequest,
    login: str,
    password: str,
    channel: str,
    allow_password_change: bool,
) -> User:
    """The user behind valid credentials; a refusal is recorded (login history, axes) first."""
    login = _normalised(login)
    account = user_for_login(login=login)
    setattr(request, LOCKOUT_KEY_ATTR, lockout_key(login=login, user=account))
    setattr(request, RESOLVED_LOGIN_ATTR, (login, account))  # the backend needs no 2nd query
    user = authenticate(request, username=login, password=password or "")
    if user is None:
        locked = bool(getattr(request, "axes_locked_out", False))
        outcome = LoginOutcome.LOCKED_OUT if locked else LoginOutcome.BAD_CREDENTIALS
        login_record(
            request=request, user=account, identifier=login, outcome=outcome, channel=channel
        )
        raise AccountLocked() if locked else InvalidCredentials()
    refusal = _refusal(user, allow_password_change=allow_password_change)
    if refusal is not None:
        outcome, error = refusal
        login_record(request=request, user=user, identifier=login, outcome=outcome, channel=channel)
        raise error
    return user


def _staff_refusal(*, request: HttpRequest, user: User, login: str, channel: str) -> None:
    """A right password for an account the admin does not serve is still a failed sign-in:
    it is recorded as one, counts towards lockout (no reset of the count), and answers like a
    wrong password, so the admin form neither signs in nor confirms the password."""
    login = _normalised(login)
    # axes counts failures from this signal; authenticate() sent none since the password fit.
    user_login_failed.send(sender=__name__, credentials={"username": login}, request=request)
    login_record(
        request=request,
        user=user,
        identifier=login,
        outcome=LoginOutcome.BAD_CREDENTIALS,
        channel=channel,
        reason="not staff",
    )
    raise InvalidCredentials()


def _login_succeeded(
    *, request: HttpRequest, user: User, login: str, channel: str, amr: str = AuthMethod.PASSWORD
) -> LoginEvent:
    """The success event, written here on every channel but the browser's, whose event goes
    in with its UserSession row (browser_sign_in)."""
    client = request_client(request)
    new_device_alert(user=user, device_label=client["device_label"], ip=client["ip"], amr=amr)
    event = LoginEvent(
        user=user,
        identifier=_normalised(login),
        outcome=LoginOutcome.SUCCESS,
        channel=channel,
        amr=amr,
        **client,
    )
    metrics.sign_in_record(channel=channel, outcome=LoginOutcome.SUCCESS)
    if channel != Channel.BROWSER:
        rows_insert(event)
        # django.contrib.auth.login() sends this for pages; other channels send it here so
        # that axes resets the failure count on every kind of success.
        user_logged_in.send(sender=type(user), request=request, user=user)
    return event


def _normalised(login: str) -> str:
    return (login or "").strip()[:254]


def _refusal(user: User, *, allow_password_change: bool) -> tuple[str, Exception] | None:
    if not user.is_active:
        return LoginOutcome.INACTIVE, AccountInactive()
    mandatory = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
    if mandatory and user.email_verified_at is None:
        return LoginOutcome.UNVERIFIED, EmailNotVerified()
    if user.must_change_password and not allow_password_change:
        return LoginOutcome.PASSWORD_CHANGE_REQUIRED, PasswordChangeRequired()
    return None


def login_record(
    *,
    request: HttpRequest,
    user: User | None,
    identifier: str,
    outcome: str,
    channel: str,
    reason: str = "",
    client: dict[str, str] | None = None,
) -> LoginEvent:
    """Writes one row of login history; never stores the password that was tried.

    ``client`` is ``request_client(request)`` when the caller has already worked it out.
    """
    event = LoginEvent(
        user=user,
        identifier=identifier[:254],
        outcome=outcome,
        reason=reason[:200],
        channel=channel,
        **(client or request_client(request)),
    )
    rows_insert(event)
    metrics.sign_in_record(channel=channel, outcome=outcome)
    # No query at all unless a receiver wants failures (RECORDED_ONLY_WHEN_DELIVERED).
    events.sign_in_failure_record(user=user, channel=channel, outcome=outcome, ip=event.ip)
    return event


def user_password_verify(
    *, request: HttpRequest, user: User, password: str, field: str = "current_password"
) -> None:
    """Checks a signed-in user's password through axes, so that guesses made on the password
    change or account deletion forms count towards the same lockout as sign-ins."""
    setattr(request, LOCKOUT_KEY_ATTR, lockout_key(login=user.username, user=user))
    setattr(request, RESOLVED_LOGIN_ATTR, (user.username, user))
    if authenticate(request, username=user.username, password=password or "") is None:
        if getattr(request, "axes_locked_out", False):
            raise AccountLocked()
        raise IncorrectPassword(field=field)


def user_reauthenticate(
    *,
    request: HttpRequest | None,
    user: User,
    password: str | None = None,
    code: str | None = None,
    credential: dict[str, Any] | None = None,
    session_id: str | None = None,
    password_field: str = "current_password",  # noqa: S107 - a field name
) -> None:
    """Proof that the account holder, not just their session, asks for a sensitive change
    (ASVS 3.7.1, "sudo mode"): the current password, or a code of their authenticator app or
    a recovery code, or a passkey's ``credential``, each counted towards lockout like a
    password; or, with none of them, a sign-in (``session_id``) proven within
    REAUTHENTICATION_SECONDS. A proof given renews the sign-in's. Missing: 403
    ``reauthentication_required``; wrong: 400 ``incorrect_password``
    (on ``password_field``) / ``invalid_code``."""
    if password:
        if request is not None:
            user_password_verify(
                request=request, user=user, password=password, field=password_field
            )
        elif not user.check_password(password):
            raise IncorrectPassword(field=password_field)
        proven = AuthMethod.PASSWORD
    elif code or credential is not None:
        proven = _reauthentication_factor_prove(
            request=request, user=user, code=code or "", credential=credential
        )
    elif user_session_recently_proven(user=user, session_id=session_id):
        return
    else:
        raise ReauthenticationRequired()
    if session_id:
        session_proof_renew(session_id=session_id, amr=proven, user=user)


def _reauthentication_factor_prove(
    *, request: HttpRequest | None, user: User, code: str, credential: dict[str, Any] | None
) -> str:
    """A passkey's assertion, else a code of the app or a recovery code; a wrong one is a
    failed sign-in for axes, and none is tried while the username + IP pair is locked out."""
    if request is not None:
        code_lockout_check(request=request, user=user, identifier=user.username)
    proofs = (
        [Proof(method=METHOD_WEBAUTHN, credential=credential)]
        if credential is not None
        else [Proof(method=method, code=code) for method in (METHOD_TOTP, METHOD_RECOVERY_CODE)]
    )
    try:
        return factor_prove_any(user=user, proofs=proofs)
    except FactorCodeInvalid:
        pass
    if request is not None:
        code_failure_record(request=request, user=user, identifier=user.username)
    raise FactorCodeInvalid()
