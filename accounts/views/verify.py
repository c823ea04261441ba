"""The second sign-in step on the page: a code of the authenticator app, or a recovery code."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts import forms
from accounts.errors import FactorCodeInvalid, MfaEnrollmentRequired, MfaRequired, MfaTokenInvalid
from accounts.models import Channel, PendingSignIn
from accounts.services.login import browser_sign_in_complete
from accounts.services.mfa import (
    METHOD_RECOVERY_CODE,
    METHOD_TOTP,
    METHOD_WEBAUTHN,
    Proof,
    user_factor_methods,
)
from accounts.services.mfa.pending import (
    PAGE_CHANNELS,
    PENDING_SESSION_KEY,
    sign_in_factor_prove,
    sign_in_pending_get,
)
from accounts.views.base import ServiceFormView, safe_next, secret_page
from identity.csp import form_action_allow_next
from identity.ratelimit import page_limit

TOO_MANY_CODES = "Too many wrong codes. Sign in again."


def login_redirect(request: HttpRequest, message: str) -> HttpResponse:
    """Back to the sign-in page with ``message``: the pending step is over; ``next`` is kept."""
    request.session.pop(PENDING_SESSION_KEY, None)
    messages.error(request, message)
    url = reverse("accounts:login")
    if next_url := safe_next(request):
        url = f"{url}?{urlencode({'next': next_url})}"
    return redirect(url)


@secret_page
class LoginVerifyView(ServiceFormView):
    """Reached with a pending step in the session only (LoginView, the admin's sign-in). Wrong
    codes count towards the account's lockout like wrong passwords; the step dies after
    MFA_MAX_ATTEMPTS; only the right code makes a session (browser_sign_in_complete)."""

    template_name = "accounts/login_verify.html"
    pending: PendingSignIn

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.pending = page_pending(request, purpose=PendingSignIn.Purpose.VERIFY)
        except MfaTokenInvalid as error:
            if request.user.is_authenticated and PENDING_SESSION_KEY not in request.session:
                return redirect(safe_next(request) or "home")
            return login_redirect(request, error.message)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def methods(self) -> list[str]:
        return user_factor_methods(user=self.pending.user)

    @property
    def method(self) -> str:
        """The code asked for: the one chosen, else the app's, else (a passkey user without
        the app) a recovery code; a passkey is offered beside either."""
        wanted = self.request.POST.get("method") or self.request.GET.get("method")
        if wanted in (METHOD_TOTP, METHOD_RECOVERY_CODE):
            return wanted
        return METHOD_TOTP if METHOD_TOTP in self.methods else METHOD_RECOVERY_CODE

    def get_form_class(self) -> type[Form]:
        return forms.RecoveryCodeForm if self.method == METHOD_RECOVERY_CODE else forms.TotpCodeForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        methods = self.methods
        extra = {
            "next": safe_next(self.request),
            "method": self.method,
            "has_totp": METHOD_TOTP in methods,
            "has_recovery_codes": METHOD_RECOVERY_CODE in methods,
            "has_passkey": METHOD_WEBAUTHN in methods,
        }
        return super().get_context_data(**extra, **kwargs)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        return form_action_allow_next(response, next_url=context["next"])

    def perform(self, form: Form) -> HttpResponse:
        pending, request = self.pending, self.request
        if limited := page_limit(request, scope="login", identifier=pending.identifier):
            return limited
        proof = Proof(method=self.method, code=form.cleaned_data["code"])
        try:
            amr = sign_in_factor_prove(request=request, pending=pending, proof=proof)
        except FactorCodeInvalid:
            if pending.failures >= settings.MFA_MAX_ATTEMPTS:
                return login_redirect(request, TOO_MANY_CODES)
            raise
        try:
            browser_sign_in_complete(request=request, pending=pending, amr=amr)
        except MfaTokenInvalid as error:
            return login_redirect(request, error.message)
        request.session.pop(PENDING_SESSION_KEY, None)
        return redirect(safe_next(request) or landing(pending))


def second_step_redirect(
    request: HttpRequest, step: MfaRequired | MfaEnrollmentRequired, *, default_next: str = ""
) -> HttpResponse:
    """After the right password of an account with a factor (or that must enrol): the pending
    step's token goes into this browser's session, then on to the page of that step, with
    ``next``: accounts:login_verify to prove a factor, accounts:login_enrol to add one first."""
    name = "accounts:login_verify" if isinstance(step, MfaRequired) else "accounts:login_enrol"
    url = reverse(name)
    request.session[PENDING_SESSION_KEY] = step.mfa_token  # type: ignore[attr-defined]
    if next_url := safe_next(request) or default_next:
        url = f"{url}?{urlencode({'next': next_url})}"
    return redirect(url)


def page_pending(request: HttpRequest, *, purpose: str) -> PendingSignIn:
    """This browser's live pending step for ``purpose`` (to verify a factor, or to enrol one);
    MfaTokenInvalid otherwise."""
    return sign_in_pending_get(
        token=request.session.get(PENDING_SESSION_KEY), channels=PAGE_CHANNELS, purpose=purpose
    )


def landing(pending: PendingSignIn) -> str:
    """Where a finished sign-in goes without ``next``: the admin's index for the admin's."""
    return reverse("admin:index") if pending.channel == Channel.ADMIN else reverse("home")
