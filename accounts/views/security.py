"""The user's sign-in methods (/accounts/security/): second factors, recovery codes, and the
enrolment a sign-in must go through when the account has to have a factor and has none."""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import FormView, TemplateView

from accounts import selectors
from accounts.errors import (
    ApplicationError,
    FactorCodeInvalid,
    FactorRequired,
    MfaTokenInvalid,
    TotpAlreadyEnrolled,
    TotpNotEnrolled,
)
from accounts.forms import TotpConfirmForm
from accounts.models import AuthMethod, PendingSignIn, User
from accounts.qr import qr_svg
from accounts.services.login import browser_sign_in_complete
from accounts.services.mfa import recovery_codes_regenerate, totp_enrol_confirm, totp_remove
from accounts.services.mfa.pending import (
    PENDING_SESSION_KEY,
    sign_in_pending_fail,
    sign_in_pending_lockout_check,
)
from accounts.services.mfa.totp import totp_enrol_resume
from accounts.views.base import safe_next, secret_page
from accounts.views.reauth import RecentProofRequiredMixin
from accounts.views.verify import TOO_MANY_CODES, login_redirect, page_pending
from identity.encryption import decrypt, encrypt
from identity.ratelimit import page_limit

# The recovery codes just made, until the page showing them once and the download have run.
NEW_RECOVERY_CODES_KEY = "_mfa_new_recovery_codes"
NEW_RECOVERY_CODES_SECONDS = 15 * 60


class SecurityView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        factors = selectors.user_factors(user=self.request.user)
        low = factors.any and factors.recovery_codes_left <= settings.MFA_RECOVERY_CODES_LOW
        return super().get_context_data(
            factors=factors,
            recovery_codes_low=low,
            totp_last_used_at=selectors.totp_last_used_at(factors.totp),
            **kwargs,
        )


class SecurityActionMixin(RecentProofRequiredMixin):
    """Adding or removing a factor and new recovery codes need a recent proof; a stale POST
    comes back to the security page, which it started from."""

    proof_return_url = "accounts:security"


def _codes_stash(request: HttpRequest, codes: list[str], *, next_url: str = "") -> HttpResponse:
    """Keeps new recovery codes in the session for the one page that shows them (and its
    download), then goes there. Encrypted (DATA_ENCRYPTION_KEY): the session store is no place
    for a secret in the clear, even for minutes."""
    request.session[NEW_RECOVERY_CODES_KEY] = {
        "codes": encrypt(json.dumps(codes).encode()),
        "at": time.time(),
        "shown": False,
        "next": next_url,
    }
    return redirect("accounts:security_recovery_codes")


def _codes_stashed(request: HttpRequest) -> dict[str, Any] | None:
    stash = request.session.get(NEW_RECOVERY_CODES_KEY)
    if not stash or time.time() - stash.get("at", 0) > NEW_RECOVERY_CODES_SECONDS:
        request.session.pop(NEW_RECOVERY_CODES_KEY, None)
        return None
    if "codes" in stash:
        return {**stash, "codes": json.loads(decrypt(stash["codes"]).plaintext)}
    return stash


def _enrolment_context(user: User) -> dict[str, Any]:
    secret, uri = totp_enrol_resume(user=user)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr": qr_svg(uri, title="QR code for your authenticator app"), "secret": grouped}


@secret_page
class TotpAddView(LoginRequiredMixin, SecurityActionMixin, FormView):
    """Adds an authenticator app: a QR code and the secret as text, then a code to confirm."""

    template_name = "accounts/security_totp.html"
    form_class = TotpConfirmForm
    # Showing the seed needs the proof; the confirming code can only come from whoever saw it
    # (as on the API), so scanning slowly does not cost the user a second proof.
    proof_required_for = frozenset({"GET"})

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().get(request, *args, **kwargs)
        except TotpAlreadyEnrolled as error:
            messages.info(request, error.message)
            return redirect("accounts:security")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**_enrolment_context(self.request.user), **kwargs)

    def form_valid(self, form: Form) -> HttpResponse:
        try:
            codes = totp_enrol_confirm(user=self.request.user, code=form.cleaned_data["code"])
        except FactorCodeInvalid as error:
            form.add_error("code", error.message)
            return self.form_invalid(form)
        messages.success(self.request, "Authenticator app added.")
        if codes:
            return _codes_stash(self.request, codes)
        return redirect("accounts:security")


class TotpRemoveView(LoginRequiredMixin, SecurityActionMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            totp_remove(user=request.user)
        except TotpNotEnrolled as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Authenticator app removed.")
        return redirect("accounts:security")


class RecoveryCodesRegenerateView(LoginRequiredMixin, SecurityActionMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            codes = recovery_codes_regenerate(user=request.user)
        except FactorRequired as error:
            messages.error(request, error.message)
            return redirect("accounts:security")
        messages.success(request, "New recovery codes made. The old codes no longer work.")
        return _codes_stash(request, codes)


@secret_page
class RecoveryCodesView(LoginRequiredMixin, View):
    """Shows the codes just made, once; "I have saved them" goes on (to ``next`` after a
    forced enrolment)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        stash = _codes_stashed(request)
        if stash is None or stash["shown"]:
            messages.info(request, "Recovery codes are shown only once. Make a new set if needed.")
            return redirect("accounts:security")
        request.session[NEW_RECOVERY_CODES_KEY] = {
            **request.session[NEW_RECOVERY_CODES_KEY],
            "shown": True,
        }
        context = {"codes": stash["codes"], "low": settings.MFA_RECOVERY_CODES_LOW}
        return render(request, "accounts/security_recovery_codes.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        stash = request.session.pop(NEW_RECOVERY_CODES_KEY, None) or {}
        return redirect(stash.get("next") or "accounts:security")


@secret_page
class RecoveryCodesDownloadView(LoginRequiredMixin, View):
    """The codes just made as a .txt attachment, served once and never cached."""

    def get(self, request: HttpRequest) -> HttpResponse:
        stash = _codes_stashed(request)
        if stash is None or "codes" not in stash:
            messages.info(request, "These recovery codes can no longer be downloaded.")
            return redirect("accounts:security")
        request.session[NEW_RECOVERY_CODES_KEY] = {k: v for k, v in stash.items() if k != "codes"}
        body = _codes_text(request.user, stash["codes"])
        response = HttpResponse(body, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="recovery-codes.txt"'
        return response


def _codes_text(user: User, codes: list[str]) -> str:
    lines = [
        f"Recovery codes for {user.username} at {settings.TOTP_ISSUER}",
        "Each code works once, when you cannot use your authenticator app or passkey.",
        "",
        *codes,
        "",
    ]
    return "\n".join(lines)


@secret_page
class LoginEnrolView(FormView):
    """Forced enrolment: the password was right, but the account must have a second factor and
    has none. No Django login until an authenticator app is confirmed; the page works off the
    pending sign-in step kept in the session."""

    template_name = "accounts/security_totp.html"
    form_class = TotpConfirmForm
    pending: PendingSignIn

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.pending = page_pending(request, purpose=PendingSignIn.Purpose.ENROL)
        except MfaTokenInvalid as error:
            return login_redirect(request, error.message)
        try:
            return super().dispatch(request, *args, **kwargs)
        except TotpAlreadyEnrolled:
            return login_redirect(request, "Your account has a second factor now. Sign in again.")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        extra = {"enrolling": True, "next": safe_next(self.request)}
        return super().get_context_data(**_enrolment_context(self.pending.user), **extra, **kwargs)

    def form_valid(self, form: Form) -> HttpResponse:
        request, pending = self.request, self.pending
        # Limited as the sign-in form is (the same scope): this page takes codes after a password.
        if limited := page_limit(request, scope="login", identifier=pending.identifier):
            return limited
        try:
            sign_in_pending_lockout_check(request=request, pending=pending)
            codes = totp_enrol_confirm(user=pending.user, code=form.cleaned_data["code"])
        except FactorCodeInvalid as error:
            form.add_error("code", error.message)
            return self._refused(form)
        except ApplicationError as error:  # locked out: django-axes answers 429
            form.add_error(None, error.message)
            return self.form_invalid(form)
        browser_sign_in_complete(request=request, pending=pending, amr=AuthMethod.TOTP)
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.success(request, "Authenticator app added. You are signed in.")
        return _codes_stash(request, codes, next_url=safe_next(request) or reverse("home"))

    def _refused(self, form: Form) -> HttpResponse:
        """A wrong code counts like one at the verify step: towards lockout and the step's end."""
        try:
            sign_in_pending_fail(request=self.request, pending=self.pending)
        except ApplicationError as error:
            form.add_error(None, error.message)
        if self.pending.failures >= settings.MFA_MAX_ATTEMPTS:
            return login_redirect(self.request, TOO_MANY_CODES)
        return self.form_invalid(form)
