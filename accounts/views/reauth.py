"""Re-authentication ("sudo mode"): a fresh proof before a sensitive action, then back to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import forms
from accounts.services.login import user_reauthenticate
from accounts.services.mfa import (
    METHOD_RECOVERY_CODE,
    METHOD_TOTP,
    METHOD_WEBAUTHN,
    user_factor_methods,
)
from accounts.services.mfa.amr import ACR_MFA, ACR_PHISHING_RESISTANT
from accounts.services.sessions import SESSION_ID_KEY, user_session_recently_proven
from accounts.views.base import ServiceFormView, safe_next, secret_page
from identity.csp import form_action_allow_next

# How the page asks: the password (the default), a code, or only a passkey (acr=phr).
PASSWORD = "password"  # noqa: S105 - the name of a way to prove, not a password
CODE = "code"
PASSKEY = "passkey"


def recently_proven(request: HttpRequest) -> bool:
    """Whether this browser's sign-in was proven within REAUTHENTICATION_SECONDS."""
    session_id = request.session.get(SESSION_ID_KEY)
    return user_session_recently_proven(user=request.user, session_id=session_id)


def reauthenticate_url(*, next_url: str, acr: str = "", method: str = "") -> str:
    """The re-authentication page, coming back to ``next_url`` once proven."""
    query = {"next": next_url, "acr": acr, "method": method}
    given = {name: value for name, value in query.items() if value}
    return f"{reverse('accounts:reauthenticate')}?{urlencode(given)}"


class RecentProofRequiredMixin:
    """A sensitive page: a sign-in not proven within REAUTHENTICATION_SECONDS goes to the
    re-authentication page first and comes back. A stale POST is redirected too, and does
    nothing; it comes back to ``proof_return_url`` (the page the form was on), or to this page.
    ``proof_required_for`` names the methods guarded. Put it after LoginRequiredMixin."""

    proof_required_for = frozenset({"GET", "POST"})
    proof_return_url = ""  # a URL name

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        guarded = request.method in self.proof_required_for
        if guarded and request.user.is_authenticated and not recently_proven(request):
            back = request.get_full_path()
            if request.method != "GET" and self.proof_return_url:
                back = reverse(self.proof_return_url)
            return redirect(reauthenticate_url(next_url=back))
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


@secret_page
class ReauthenticateView(LoginRequiredMixin, ServiceFormView):
    """Asks a signed-in user for the password or a factor and returns to ``next``.

    ``acr=mfa`` (an OAuth client's step-up) takes only a factor, ``acr=phr`` only a passkey
    (the passkey part posts to its own endpoint), so the sign-in's amr then meets the level."""

    template_name = "accounts/reauthenticate.html"

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        params = request.POST if request.method == "POST" else request.GET
        acr = params.get("acr", "")
        self.acr = acr if acr in (ACR_MFA, ACR_PHISHING_RESISTANT) else ""
        if self.acr == ACR_PHISHING_RESISTANT:
            self.method = PASSKEY
        elif self.acr == ACR_MFA or params.get("method") == CODE:
            self.method = CODE
        else:
            self.method = PASSWORD

    def get_form_class(self) -> type[Form]:
        if self.method == PASSWORD:
            return forms.ReauthenticatePasswordForm
        return forms.ReauthenticateCodeForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.method == PASSKEY:  # no code or password proves a phishing-resistant sign-in
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        methods = user_factor_methods(user=self.request.user)
        next_url = safe_next(self.request)
        context = {
            "next": next_url,
            "acr": self.acr,
            "method": self.method,
            "has_codes": bool({METHOD_TOTP, METHOD_RECOVERY_CODE} & set(methods)),
            "has_passkeys": METHOD_WEBAUTHN in methods,
            "password_url": reauthenticate_url(next_url=next_url),
            "code_url": reauthenticate_url(next_url=next_url, acr=self.acr, method=CODE),
        }
        return super().get_context_data(**context, **kwargs)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        # Coming back to an authorization request may redirect straight on to the client.
        response = super().render_to_response(context, **kwargs)
        return form_action_allow_next(response, next_url=context["next"])

    def perform(self, form: Form) -> HttpResponse:
        user_reauthenticate(
            request=self.request,
            user=self.request.user,
            password=form.cleaned_data.get("password"),
            code=form.cleaned_data.get("code"),
            session_id=self.request.session.get(SESSION_ID_KEY),
            password_field="password",  # noqa: S106 - a field name
        )
        return redirect(safe_next(self.request) or "accounts:security")
