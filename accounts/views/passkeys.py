"""Passkey ceremonies for the pages: JSON endpoints the page script (static/js/passkeys.js) calls.

Each pair is "options" then the answer. The browser posts JSON with the CSRF token in a header;
refusals are problems (identity.api.errors) with the API's codes. Signing in with a passkey,
finishing the second step and re-authenticating happen here; the pages that show the buttons
are the login page, the verify page and the re-authentication page (the passkey_prove include).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import services
from accounts.errors import (
    ApplicationError,
)
from accounts.models import Channel, PendingSignIn
from accounts.services.login import (
    browser_sign_in_complete,
    sign_in_succeed,
    user_reauthenticate,
)
from accounts.services.mfa import METHOD_WEBAUTHN, Proof, passkeys
from accounts.services.mfa.pending import (
    PENDING_SESSION_KEY,
    sign_in_factor_prove,
)
from accounts.services.sessions import SESSION_ID_KEY
from accounts.views.base import safe_next
from accounts.views.security import SecurityActionMixin
from accounts.views.verify import landing, page_pending
from identity.api.errors import problem_response
from identity.net import client_ip
from identity.ratelimit import rate_limit_hit


@method_decorator(never_cache, name="dispatch")
class PasskeyJsonView(View):
    """POST only; the body is a JSON object; ``perform`` returns the answer's JSON object."""

    http_method_names = ["post"]
    limit_scope: str | None = None

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if self.limit_scope and rate_limit_hit(scope=self.limit_scope, ip=client_ip(request)):
            detail = "Too many requests. Try again later."
            return problem_response(status=429, code="throttled", detail=detail)
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return problem_response(status=400, code="invalid_json", detail="Send a JSON object.")
        try:
            return JsonResponse(self.perform(request, data, **kwargs))
        except ApplicationError as error:
            return _problem(error)

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        raise NotImplementedError


def _problem(error: ApplicationError) -> HttpResponse:
    return problem_response(status=error.status, code=error.code, detail=error.message)


def _credential(data: dict[str, Any]) -> dict[str, Any]:
    credential = data.get("credential")
    return credential if isinstance(credential, dict) else {}


# -- a passkey alone (the login page) ---------------------------------------------------------


class LoginPasskeyOptionsView(PasskeyJsonView):
    limit_scope = "login"

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        return passkeys.passkey_sign_in_options()


class LoginPasskeyView(PasskeyJsonView):
    """Signs the browser in with a passkey alone; answers where to go next."""

    limit_scope = "login"

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        passkey = passkeys.passkey_sign_in(credential=_credential(data))
        user = passkey.user
        request.session.pop(PENDING_SESSION_KEY, None)
        event = sign_in_succeed(
            request=request,
            user=user,
            login=user.username,
            channel=Channel.BROWSER,
            amr=passkey.amr,
        )
        services.browser_session_start(request=request, user=user, event=event, amr=passkey.amr)
        return {"redirect": safe_next(request) or reverse("home")}


# -- the second step of a sign-in (the verify page) -------------------------------------------


def _verify_pending(request: HttpRequest) -> PendingSignIn:
    return page_pending(request, purpose=PendingSignIn.Purpose.VERIFY)


class VerifyPasskeyOptionsView(PasskeyJsonView):
    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        return passkeys.passkey_pending_options(pending=_verify_pending(request))


class VerifyPasskeyView(PasskeyJsonView):
    """Proves a passkey for the pending sign-in and finishes it (a wrong one counts)."""

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        pending = _verify_pending(request)
        proof = Proof(
            method=METHOD_WEBAUTHN,
            credential=_credential(data),
            challenge=pending.webauthn_challenge,
        )
        amr = sign_in_factor_prove(request=request, pending=pending, proof=proof)
        request.session.pop(PENDING_SESSION_KEY, None)
        browser_sign_in_complete(request=request, pending=pending, amr=amr)
        return {"redirect": safe_next(request) or landing(pending)}


# -- re-authentication of a signed-in user ----------------------------------------------------


class ReauthPasskeyOptionsView(LoginRequiredMixin, PasskeyJsonView):
    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        return passkeys.passkey_factor_options(user=request.user)


class ReauthPasskeyView(LoginRequiredMixin, PasskeyJsonView):
    """A passkey proves the holder again: the sign-in counts as recent (sudo mode)."""

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        user_reauthenticate(
            request=request,
            user=request.user,
            credential=_credential(data),
            session_id=request.session.get(SESSION_ID_KEY),
        )
        return {"redirect": safe_next(request) or reverse("accounts:security")}


# -- the security page ------------------------------------------------------------------------


def _recent_proof_require(request: HttpRequest) -> None:
    """Adding or removing a passkey needs a sign-in proven within REAUTHENTICATION_SECONDS."""
    user_reauthenticate(
        request=None, user=request.user, session_id=request.session.get(SESSION_ID_KEY)
    )


class SecurityPasskeyOptionsView(LoginRequiredMixin, PasskeyJsonView):
    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        _recent_proof_require(request)
        return passkeys.passkey_registration_options(user=request.user)


class SecurityPasskeyAddView(LoginRequiredMixin, PasskeyJsonView):
    """Keeps the new passkey; the first factor's recovery codes come back once, to be shown."""

    def perform(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> dict:
        _recent_proof_require(request)
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        passkey, codes = passkeys.passkey_register(
            user=request.user, name=name, credential=_credential(data)
        )
        messages.success(request, f"Passkey “{passkey.name}” added.")
        return {"recovery_codes": codes, "redirect": reverse("accounts:security")}


@method_decorator(never_cache, name="dispatch")
class SecurityPasskeyRenameView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, passkey_id: str) -> HttpResponse:
        try:
            passkey = passkeys.passkey_rename(
                user=request.user, passkey_id=passkey_id, name=request.POST.get("name", "")
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Passkey renamed to “{passkey.name}”.")
        return redirect("accounts:security")


@method_decorator(never_cache, name="dispatch")
class SecurityPasskeyDeleteView(LoginRequiredMixin, SecurityActionMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, passkey_id: str) -> HttpResponse:
        try:
            passkeys.passkey_delete(user=request.user, passkey_id=passkey_id)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Passkey removed.")
        return redirect("accounts:security")
