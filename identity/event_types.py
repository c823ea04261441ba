"""The catalogue of event types: the one list emitters, webhook endpoints and the audit API use.

A type is ``<thing>.<what happened>``. Its payload (``Event.data``) carries ids (``public_id``,
``sid``, client id) and what changed, never a secret, a password hash or a token.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "user.created": "An account was created (sign-up, invitation, admin or API).",
    "user.updated": "Profile or account fields changed; data.changed names them.",
    "user.deactivated": "An account was deactivated: it can no longer sign in.",
    "user.reactivated": "A deactivated account was made active again.",
    "user.deleted": "An account was deleted.",
    "user.email_changed": "The account's email address changed.",
    "user.password_changed": "The password was changed, reset or set by an admin.",
    "sign_in.succeeded": "A sign-in completed on any channel (browser, API, OAuth, admin).",
    "sign_in.failed": "A sign-in attempt failed (off by default: high volume).",
    "session.revoked": "A sign-in ended: signed out, revoked, or ended by a security rule.",
    "lockout.started": "Too many failed attempts locked an identifier out.",
    "role.assigned": "A role was assigned to a user.",
    "role.revoked": "A role was taken from a user.",
    "mfa.factor_added": "A second factor (TOTP, passkey) was added; data.method says which.",
    "mfa.factor_removed": "A second factor was removed; data.method says which.",
    "mfa.recovery_codes_generated": "A new set of recovery codes replaced the old one.",
    "mfa.recovery_code_used": "A recovery code was spent to sign in.",
    "application.created": "An OAuth application was registered.",
    "application.updated": "An OAuth application's settings changed; data.changed names them.",
    "application.deleted": "An OAuth application was deleted.",
}

# An endpoint subscribed to "every type" is not sent these; it must name them.
OFF_BY_DEFAULT: frozenset[str] = frozenset({"sign_in.failed"})

# Written to the events table only when someone is to be told: their audit record is another
# table's row (a failed sign-in is a LoginEvent), and a password-spraying attack must not
# double its write load for nothing.
RECORDED_ONLY_WHEN_DELIVERED: frozenset[str] = frozenset({"sign_in.failed"})


def types_for_subscription(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The types an endpoint receives: ``["*"]`` (or nothing) is every type but the ones off by
    default; otherwise exactly the named ones."""
    if not names or "*" in names:
        return frozenset(EVENT_TYPES) - OFF_BY_DEFAULT | (frozenset(names) & OFF_BY_DEFAULT)
    return frozenset(names)


# Recorded by another table, which the audit stream reads instead (accounts.audit): sign-ins by
# LoginEvent, role assignments by AuthzAuditEvent. An events-table row of these types exists only
# to be delivered; the audit stream does not repeat it.
AUDITED_ELSEWHERE: frozenset[str] = frozenset(
    {"sign_in.succeeded", "sign_in.failed", "role.assigned", "role.revoked"}
)
