"""REST API routes for accounts (/api/v1/...)."""

from __future__ import annotations

from django.urls import path

from accounts.api.views import (
    audit,
    auth,
    me,
    mfa_login,
    mfa_self,
    passkeys,
    sessions,
    users,
    webhooks,
)

app_name = "accounts"

urlpatterns = [
    # The most requested endpoint first (patterns are tried in order).
    path("me/", me.MeApi.as_view(), name="me"),
    # auth/signup/ is sso's (api:sso:signup): sign-up may join an application.
    path("auth/verify-email/", auth.VerifyEmailApi.as_view(), name="verify_email"),
    path(
        "auth/verify-email/resend/",
        auth.VerifyEmailResendApi.as_view(),
        name="verify_email_resend",
    ),
    path("auth/login/", auth.LoginApi.as_view(), name="login"),
    # The second sign-in step (multi-factor sign-in).
    path("auth/login/mfa/", mfa_login.LoginMfaApi.as_view(), name="login_mfa"),
    path("auth/confirm-account/", auth.ConfirmAccountApi.as_view(), name="confirm_account"),
    path("auth/refresh/", auth.RefreshApi.as_view(), name="refresh"),
    path("auth/logout/", auth.LogoutApi.as_view(), name="logout"),
    path("auth/token/", auth.TokenInfoApi.as_view(), name="token"),
    path("auth/password-reset/", auth.PasswordResetApi.as_view(), name="password_reset"),
    path(
        "auth/password-reset/confirm/",
        auth.PasswordResetConfirmApi.as_view(),
        name="password_reset_confirm",
    ),
    path("me/profile/", me.MeProfileApi.as_view(), name="me_profile"),
    path("me/password/", me.MePasswordApi.as_view(), name="me_password"),
    path("me/sessions/", sessions.MeSessionListApi.as_view(), name="me_sessions"),
    path(
        "me/sessions/revoke-others/",
        sessions.MeSessionsRevokeOthersApi.as_view(),
        name="me_sessions_revoke_others",
    ),
    path(
        "me/sessions/<uuid:session_id>/",
        sessions.MeSessionRevokeApi.as_view(),
        name="me_session",
    ),
    path("me/login-history/", sessions.MeLoginHistoryApi.as_view(), name="me_login_history"),
    # Second factors, self-service (first-party callers only).
    path("me/mfa/", mfa_self.MeMfaApi.as_view(), name="me_mfa"),
    path("me/mfa/totp/", mfa_self.MeTotpApi.as_view(), name="me_mfa_totp"),
    path("me/mfa/totp/confirm/", mfa_self.MeTotpConfirmApi.as_view(), name="me_mfa_totp_confirm"),
    path(
        "me/mfa/recovery-codes/",
        mfa_self.MeRecoveryCodesApi.as_view(),
        name="me_mfa_recovery_codes",
    ),
    # Passkeys (WebAuthn): sign-in with one alone, the second step's options, self-service.
    path(
        "auth/passkey/options/", passkeys.PasskeySignInOptionsApi.as_view(), name="passkey_options"
    ),
    path("auth/passkey/", passkeys.PasskeySignInApi.as_view(), name="passkey"),
    path(
        "auth/login/mfa/webauthn/options/",
        passkeys.MfaWebauthnOptionsApi.as_view(),
        name="login_mfa_webauthn_options",
    ),
    path(
        "me/passkeys/options/", passkeys.MePasskeyOptionsApi.as_view(), name="me_passkeys_options"
    ),
    path("me/passkeys/", passkeys.MePasskeyListApi.as_view(), name="me_passkeys"),
    path(
        "me/passkeys/<uuid:passkey_id>/", passkeys.MePasskeyDetailApi.as_view(), name="me_passkey"
    ),
    path("users/", users.UserListApi.as_view(), name="users"),
    path(
        "users/<str:public_id>/sessions/",
        sessions.UserSessionListApi.as_view(),
        name="user_sessions",
    ),
    path(
        "users/<str:public_id>/sessions/<uuid:session_id>/",
        sessions.UserSessionRevokeApi.as_view(),
        name="user_session",
    ),
    path(
        "users/<str:public_id>/login-history/",
        sessions.UserLoginHistoryApi.as_view(),
        name="user_login_history",
    ),
    path("users/<str:public_id>/", users.UserDetailApi.as_view(), name="user"),
    path(
        "users/<str:public_id>/password-reset/",
        users.UserPasswordResetApi.as_view(),
        name="user_password_reset",
    ),
    path("email-domain-rules/", users.EmailDomainRuleListApi.as_view(), name="email_domain_rules"),
    path(
        "email-domain-rules/<int:pk>/",
        users.EmailDomainRuleDetailApi.as_view(),
        name="email_domain_rule",
    ),
    path("audit/events/", audit.AuditEventListApi.as_view(), name="audit_events"),
    # Webhook endpoints (identity.webhooks; here for the permission check, authz's).
    path("webhooks/", webhooks.WebhookListApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:id>/", webhooks.WebhookDetailApi.as_view(), name="webhook"),
    path(
        "webhooks/<uuid:id>/rotate-secret/",
        webhooks.WebhookSecretRotateApi.as_view(),
        name="webhook_rotate_secret",
    ),
]
