"""Every state-changing use case of accounts; pages, API and admin call these."""

from __future__ import annotations

from accounts.services.domain_rules import (
    email_domain_rule_create,
    email_domain_rule_delete,
    email_domain_rule_update,
)
from accounts.services.login import browser_sign_in, login_record, user_authenticate
from accounts.services.passwords import (
    account_confirm,
    password_change,
    password_reset_confirm,
    password_reset_link_check,
    password_reset_request,
)
from accounts.services.sessions import (
    browser_session_end,
    browser_session_start,
    request_client,
    session_revoke,
    user_session_revoke,
    user_sessions_revoke,
)
from accounts.services.users import (
    email_change_pending,
    email_change_request,
    email_change_request_own,
    email_verification_resend,
    email_verification_send,
    email_verify,
    profile_update,
    user_create,
    user_deactivate,
    user_delete,
    user_delete_by_admin,
    user_mark_email_verified,
    user_require_password_change,
    user_sign_up,
    user_update,
    user_update_by_admin,
    user_update_own,
)

__all__ = [
    "account_confirm",
    "browser_session_end",
    "browser_session_start",
    "browser_sign_in",
    "email_change_pending",
    "email_change_request",
    "email_change_request_own",
    "email_domain_rule_create",
    "email_domain_rule_delete",
    "email_domain_rule_update",
    "email_verification_resend",
    "email_verification_send",
    "email_verify",
    "login_record",
    "password_change",
    "password_reset_confirm",
    "password_reset_link_check",
    "password_reset_request",
    "profile_update",
    "request_client",
    "session_revoke",
    "user_authenticate",
    "user_create",
    "user_deactivate",
    "user_delete",
    "user_delete_by_admin",
    "user_mark_email_verified",
    "user_require_password_change",
    "user_session_revoke",
    "user_sessions_revoke",
    "user_sign_up",
    "user_update",
    "user_update_by_admin",
    "user_update_own",
]
