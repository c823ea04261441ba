"""Account pages: each view parses a form, calls one service, then renders or redirects."""

from __future__ import annotations

from accounts.views.account import (
    DeleteAccountView,
    EmailChangeView,
    HomeView,
    PasswordChangeView,
    ProfileView,
)
from accounts.views.auth import (
    ConfirmAccountView,
    LoginView,
    LogoutView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
    SignUpDoneView,
    SignUpView,
    VerifyEmailResendPendingView,
    VerifyEmailResendView,
    VerifyEmailView,
)
from accounts.views.base import PENDING_VERIFICATION_KEY
from accounts.views.reauth import ReauthenticateView, RecentProofRequiredMixin
from accounts.views.security import (
    LoginEnrolView,
    RecoveryCodesDownloadView,
    RecoveryCodesRegenerateView,
    RecoveryCodesView,
    SecurityView,
    TotpAddView,
    TotpRemoveView,
)
from accounts.views.sessions import (
    LoginHistoryView,
    SessionRevokeView,
    SessionsRevokeOthersView,
    SessionsView,
)
from accounts.views.verify import LoginVerifyView

__all__ = [
    "PENDING_VERIFICATION_KEY",
    "ConfirmAccountView",
    "DeleteAccountView",
    "EmailChangeView",
    "HomeView",
    "LoginEnrolView",
    "LoginHistoryView",
    "LoginVerifyView",
    "LoginView",
    "LogoutView",
    "PasswordChangeView",
    "PasswordResetConfirmView",
    "PasswordResetDoneView",
    "PasswordResetView",
    "ProfileView",
    "ReauthenticateView",
    "RecentProofRequiredMixin",
    "RecoveryCodesDownloadView",
    "RecoveryCodesRegenerateView",
    "RecoveryCodesView",
    "SecurityView",
    "SessionRevokeView",
    "SessionsRevokeOthersView",
    "SessionsView",
    "SignUpDoneView",
    "SignUpView",
    "TotpAddView",
    "TotpRemoveView",
    "VerifyEmailResendPendingView",
    "VerifyEmailResendView",
    "VerifyEmailView",
]
