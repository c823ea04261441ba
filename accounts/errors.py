"""Domain errors raised by account services, each with a stable machine-readable code."""

from __future__ import annotations

from authz.errors import UserNotFound
from identity.errors import ApplicationError

# Re-exported: account code raises and catches them by these names. UserNotFound lives in
# authz, the lower layer, whose role endpoints answer it too.
__all__ = ["ApplicationError", "UserNotFound"]


class EmailDomainNotAllowed(ApplicationError):
    code = "email_domain_not_allowed"
    status = 403
    message = "Sign-up is not open to addresses at this email domain."
    field = "email"


class UsernameExists(ApplicationError):
    code = "username_exists"
    status = 409
    message = "This username is already taken."
    field = "username"


class EmailExists(ApplicationError):
    code = "email_exists"
    status = 409
    message = "An account with this email address already exists."
    field = "email"


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    status = 401
    message = "The username, email or password is not correct."


class AccountInactive(ApplicationError):
    code = "account_inactive"
    status = 403
    message = "This account has been deactivated. Contact an administrator."


class AccountLocked(ApplicationError):
    code = "locked_out"
    status = 429
    message = "Too many failed sign-in attempts. Try again later."


class EmailNotVerified(ApplicationError):
    code = "email_not_verified"
    status = 403
    message = "Verify your email address before signing in."


class PasswordChangeRequired(ApplicationError):
    code = "password_change_required"
    status = 403
    message = "You must choose a new password before signing in."


class LinkInvalid(ApplicationError):
    code = "invalid_token"
    status = 400
    message = "This link is invalid, has already been used or has expired."
    field = "token"


class CodeInvalid(ApplicationError):
    code = "invalid_code"
    status = 400
    message = "This code is invalid, has already been used or has expired."
    field = "code"


class IncorrectPassword(ApplicationError):
    code = "incorrect_password"
    status = 400
    message = "Your current password is not correct."
    field = "current_password"


class ReauthenticationRequired(ApplicationError):
    """A change that could hand the account to someone else needs a recent proof: the
    password, a factor's code, or a sign-in proven within REAUTHENTICATION_SECONDS."""

    code = "reauthentication_required"
    status = 403
    message = (
        "Confirm this change with your current password or a code from your authenticator app."
    )
    field = "current_password"


class PasswordMismatch(ApplicationError):
    code = "password_mismatch"
    status = 400
    message = "The two passwords do not match."
    field = "new_password_confirm"


class PasswordNotChanged(ApplicationError):
    code = "password_not_changed"
    status = 400
    message = "Choose a password different from your current one."
    field = "new_password"


class DomainRuleExists(ApplicationError):
    code = "domain_rule_exists"
    status = 409
    message = "A rule for this domain already exists."
    field = "domain"


class DomainRuleNotFound(ApplicationError):
    code = "domain_rule_not_found"
    status = 404
    message = "No email-domain rule has this id."


class SessionNotFound(ApplicationError):
    code = "session_not_found"
    status = 404
    message = "This session does not exist or has already ended."


# -- multi-factor sign-in ---------------------------------------------------------------------


class MfaRequired(ApplicationError):
    """The password was right; a second factor must follow (the API adds ``mfa_token`` and
    ``methods`` to the problem body)."""

    code = "mfa_required"
    status = 403
    message = "A second factor is required to finish signing in."
    extra_members = {
        "mfa_token": {
            "type": "string",
            "description": "Opaque, single-use, valid for 5 minutes: send it to "
            "/api/v1/auth/login/mfa/ with a code of one of `methods`.",
        },
        "methods": {
            "type": "array",
            "items": {"type": "string", "enum": ["totp", "recovery_code", "webauthn"]},
            "description": "The ways this account can prove its second factor.",
        },
    }


class MfaEnrollmentRequired(ApplicationError):
    code = "mfa_enrollment_required"
    status = 403
    message = "This account must set up a second factor before it can sign in."


class MfaTokenInvalid(ApplicationError):
    code = "mfa_token_invalid"
    status = 400
    message = "This sign-in step has expired or was already used. Sign in again."
    field = "mfa_token"


class FactorCodeInvalid(ApplicationError):
    """A wrong, spent or replayed TOTP or recovery code (the same answer for each)."""

    code = "invalid_code"
    status = 400
    message = "The code is not valid."
    field = "code"


class TotpAlreadyEnrolled(ApplicationError):
    code = "totp_already_enrolled"
    status = 409
    message = "An authenticator app is already set up; remove it before adding another."


class TotpNotEnrolled(ApplicationError):
    code = "totp_not_enrolled"
    status = 404
    message = "No authenticator app is set up."


class FactorRequired(ApplicationError):
    """Recovery codes stand in for a factor; without one they would be a password of sorts."""

    code = "factor_required"
    status = 409
    message = "Set up an authenticator app or a passkey first."


# -- passkeys ---------------------------------------------------------------------------------


class PasskeyInvalid(ApplicationError):
    """A passkey answer that does not hold (unknown credential, wrong challenge, origin or
    signature, no user verification, a cloned authenticator): one answer for every cause."""

    code = "passkey_invalid"
    status = 400
    message = "This passkey could not be verified. Try again."
    field = "credential"


class PasskeyNotFound(ApplicationError):
    code = "passkey_not_found"
    status = 404
    message = "No passkey of yours has this id."


class PasskeyNameExists(ApplicationError):
    code = "passkey_name_exists"
    status = 409
    message = "You already have a passkey with this name."
    field = "name"


class AuditTypeUnknown(ApplicationError):
    code = "unknown_event_type"
    status = 400
    message = "No event type of the audit stream has this name or prefix."
    field = "type"


class AuditCursorInvalid(ApplicationError):
    code = "invalid_cursor"
    status = 400
    message = "The cursor is not one this API gave out. Start again from the first page."
    field = "cursor"
