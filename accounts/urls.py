"""Account pages under /accounts/."""

from __future__ import annotations

from django.urls import path

from accounts import views
from accounts.views import passkeys

app_name = "accounts"

urlpatterns = [
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("signup/done/", views.SignUpDoneView.as_view(), name="signup_done"),
    path(
        "verify-email/resend/",
        views.VerifyEmailResendView.as_view(),
        name="verify_email_resend",
    ),
    path(
        "verify-email/resend-pending/",
        views.VerifyEmailResendPendingView.as_view(),
        name="verify_email_resend_pending",
    ),
    path("verify-email/<str:token>/", views.VerifyEmailView.as_view(), name="verify_email"),
    path("login/", views.LoginView.as_view(), name="login"),
    # The second sign-in step (multi-factor sign-in).
    path("login/verify/", views.LoginVerifyView.as_view(), name="login_verify"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("confirm-account/", views.ConfirmAccountView.as_view(), name="confirm_account"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<str:token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("email/", views.EmailChangeView.as_view(), name="email_change"),
    path("delete/", views.DeleteAccountView.as_view(), name="delete"),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path(
        "sessions/revoke-others/",
        views.SessionsRevokeOthersView.as_view(),
        name="sessions_revoke_others",
    ),
    path(
        "sessions/<uuid:session_id>/revoke/",
        views.SessionRevokeView.as_view(),
        name="session_revoke",
    ),
    path("history/", views.LoginHistoryView.as_view(), name="history"),
    path("security/", views.SecurityView.as_view(), name="security"),
    # Second factors: the security pages and the enrolment a sign-in may have to go through.
    path("security/totp/", views.TotpAddView.as_view(), name="security_totp"),
    path("security/totp/remove/", views.TotpRemoveView.as_view(), name="security_totp_remove"),
    path(
        "security/recovery-codes/",
        views.RecoveryCodesView.as_view(),
        name="security_recovery_codes",
    ),
    path(
        "security/recovery-codes/new/",
        views.RecoveryCodesRegenerateView.as_view(),
        name="security_recovery_codes_regenerate",
    ),
    path(
        "security/recovery-codes/download/",
        views.RecoveryCodesDownloadView.as_view(),
        name="security_recovery_codes_download",
    ),
    path("login/enrol/", views.LoginEnrolView.as_view(), name="login_enrol"),
    path("reauthenticate/", views.ReauthenticateView.as_view(), name="reauthenticate"),
    # Passkeys: the JSON endpoints static/js/passkeys.js calls, and the security page's forms.
    path(
        "login/passkey/options/",
        passkeys.LoginPasskeyOptionsView.as_view(),
        name="passkey_login_options",
    ),
    path("login/passkey/", passkeys.LoginPasskeyView.as_view(), name="passkey_login"),
    path(
        "login/verify/passkey/options/",
        passkeys.VerifyPasskeyOptionsView.as_view(),
        name="passkey_verify_options",
    ),
    path("login/verify/passkey/", passkeys.VerifyPasskeyView.as_view(), name="passkey_verify"),
    path(
        "reauthenticate/passkey/options/",
        passkeys.ReauthPasskeyOptionsView.as_view(),
        name="passkey_reauth_options",
    ),
    path("reauthenticate/passkey/", passkeys.ReauthPasskeyView.as_view(), name="passkey_reauth"),
    path(
        "security/passkeys/options/",
        passkeys.SecurityPasskeyOptionsView.as_view(),
        name="passkey_add_options",
    ),
    path("security/passkeys/", passkeys.SecurityPasskeyAddView.as_view(), name="passkey_add"),
    path(
        "security/passkeys/<uuid:passkey_id>/rename/",
        passkeys.SecurityPasskeyRenameView.as_view(),
        name="passkey_rename",
    ),
    path(
        "security/passkeys/<uuid:passkey_id>/delete/",
        passkeys.SecurityPasskeyDeleteView.as_view(),
        name="passkey_delete",
    ),
    # /accounts/apps/ (the applications the user allowed) is sso's: sso:connected_apps.
]
