"""The OAuth 2.0 / OpenID Connect endpoints under /o/, on django-oauth-toolkit's views."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote_plus, urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot
from oauth2_provider.exceptions import (
    ClientIdMissmatch,
    InvalidIDTokenError,
    InvalidOIDCRedirectURIError,
    OAuthToolkitError,
)
from oauth2_provider.views.oidc import _load_id_token, _validate_claims

from accounts.claims import user_claims
from accounts.models import UserSession
from accounts.selectors import user_password_change_pending
from accounts.services.mfa.amr import acr_satisfies
from accounts.services.sessions import (
    REAUTH_KEY,
    SESSION_ID_KEY,
    browser_session_end,
    reauthenticated_since_request,
    reauthentication_request,
)
from identity import metrics
from identity.csp import form_action_allow
from identity.http import authorization
from sso import selectors, services
from sso.authentication import bearer_token
from sso.hashers import ALGORITHM
from sso.models import Application, is_loopback_uri


class AuthorizationView(dot.AuthorizationView):
    """RFC 6749 §4.1.1 with consent remembered per user and application, first-party
    applications never asking, restricted applications refusing non-members."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        prompt = set(request.GET.get("prompt", "").split())
        application = Application.objects.select_related("user").get(
            client_id=credentials["client_id"]
        )
        if self._reauthentication_required(prompt):
            if "none" in prompt:
                # OIDC Core §3.1.2.6: a fresh sign-in is needed but no interaction allowed.
                return self._error_redirect(credentials, "login_required", application)
            reauthentication_request(request=request)
            return redirect_to_login(
                request.get_full_path(),
                resolve_url(self.get_login_url()),
                self.get_redirect_field_name(),
            )
        if not services.application_user_may_sign_in(application=application, user=request.user):
            return render(request, "sso/not_member.html", {"application": application}, status=403)
        step_up = self._step_up(prompt, credentials, application)
        if step_up is not None:
            return step_up
        if "consent" not in prompt and self._consented(application, scopes):
            return self._approve(scopes, credentials, application)
        if "none" in prompt:
            # OIDC Core §3.1.2.6: no interaction allowed, and consent is missing.
            return self._error_redirect(credentials, "consent_required", application)
        response = super().get(request, *args, **kwargs)
        return form_action_allow(response, redirect_uri=credentials.get("redirect_uri") or "")

    def _reauthentication_required(self, prompt: set[str]) -> bool:
        """OIDC Core §3.1.2.1: ``prompt=login`` always, ``max_age`` once the browser's sign-in
        is older; either is met by a sign-in made after the portal asked for it."""
        max_age = _max_age(self.request.GET.get("max_age"))
        if "login" not in prompt and max_age is None and REAUTH_KEY not in self.request.session:
            return False  # the common case costs no query
        browser = self._browser_session()
        auth_time = browser.created_at if browser else None
        if reauthenticated_since_request(request=self.request, auth_time=auth_time):
            return False
        if "login" in prompt:
            return True
        if max_age is None:
            return False
        # In seconds, not as a timedelta: a max_age beyond any date would overflow one (a 500).
        return auth_time is None or (timezone.now() - auth_time).total_seconds() > max_age

    def _step_up(
        self, prompt: set[str], credentials: dict, application: Application
    ) -> HttpResponse | None:
        """OIDC Core §3.1.2.1 ``acr_values``: a browser sign-in below the strongest value asked
        proves the missing factor on the re-authentication page, which comes back here. None
        when the sign-in already meets it (or nothing known was asked)."""
        wanted = selectors.acr_requested(acr_values=self.request.GET.get("acr_values"))
        if wanted is None:
            return None  # the common case costs no query
        browser = self._browser_session()
        if acr_satisfies(browser.amr if browser else None, wanted):
            return None
        if not selectors.user_may_reach_acr(user=self.request.user, acr=wanted):
            # No factor can meet it: asking would loop. The error of "OpenID Connect Core
            # Error Code unmet_authentication_requirements 1.0" §1, to the client.
            return self._error_redirect(
                credentials, "unmet_authentication_requirements", application
            )
        if "none" in prompt:
            # OIDC Core §3.1.2.6: the user could step up, but no interaction is allowed.
            return self._error_redirect(credentials, "interaction_required", application)
        query = urlencode({"acr": wanted, "next": self.request.get_full_path()})
        return redirect(f"{reverse('accounts:reauthenticate')}?{query}")

    def _browser_session(self) -> UserSession | None:
        if not hasattr(self, "_browser"):
            session_id = self.request.session.get(SESSION_ID_KEY)
            self._browser = (
                UserSession.objects.filter(pk=session_id).first() if session_id else None
            )
        return self._browser

    def _consented(self, application: Application, scopes: list[str]) -> bool:
        if application.is_first_party:
            return True
        consent = selectors.consent_get(user=self.request.user, application=application)
        return consent is not None and consent.covers(scopes)

    def _approve(self, scopes: list[str], credentials: dict, application: Application):
        try:
            uri, _, _, _ = self.create_authorization_response(
                request=self.request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def _error_redirect(self, credentials: dict, error: str, application: Application):
        params = {"error": error, "iss": services.issuer()}
        if credentials.get("state"):
            params["state"] = credentials["state"]
        uri = credentials["redirect_uri"]
        return self.redirect(f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}", application)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        all_scopes = self.get_scopes_backend_all()
        context["scope_items"] = [(s, all_scopes.get(s, s)) for s in kwargs.get("scopes", [])]
        return context

    @staticmethod
    def get_scopes_backend_all() -> dict[str, str]:
        from oauth2_provider.scopes import get_scopes_backend

        return get_scopes_backend().get_all_scopes()

    def create_authorization_response(self, request, scopes, credentials, allow):
        # Carried to the validator (oauthlib copies credentials onto its request): the browser
        # sign-in that approved, whose end-session ends this sign-in, and its auth_time.
        browser = self._browser_session()
        credentials = {
            **credentials,
            "sso_browser_session_id": browser.pk if browser else None,
            "sso_auth_time": browser.created_at if browser else None,
        }
        return super().create_authorization_response(request, scopes, credentials, allow)

    def form_valid(self, form: Any) -> HttpResponse:
        application = Application.objects.get(client_id=form.cleaned_data["client_id"])
        if not services.application_user_may_sign_in(
            application=application, user=self.request.user
        ):
            return render(
                self.request, "sso/not_member.html", {"application": application}, status=403
            )
        response = super().form_valid(form)
        if form.cleaned_data.get("allow") and getattr(self, "success_url", None):
            scopes = form.cleaned_data.get("scope", "").split()
            services.consent_grant(user=self.request.user, application=application, scopes=scopes)
        return response


def _max_age(value: str | None) -> int | None:
    """OIDC Core §3.1.2.1: a non-negative number of seconds; anything else is ignored."""
    return int(value) if value and value.isascii() and value.isdigit() else None


class BackChannelEndpoint(View):
    """The token, revocation and introspection endpoints answer machines: every answer is
    ``Cache-Control: no-store`` (RFC 6749 §5.1) and every error a JSON object (§5.2), also the
    ones Django or oauthlib would serve as an HTML page or an empty ``text/html`` body."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _has_nul(request):
            # No identifier, secret or token holds one, and Postgres refuses it in a query (a
            # 500 otherwise): refused before any lookup, as a malformed request.
            response = _oauth_error("invalid_request", "The request is malformed.", 400)
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        if response.status_code >= 400 and not _is_json(response):
            response = _as_json_error(response)
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        response = _oauth_error("invalid_request", "This endpoint accepts POST only.", 405)
        response["Allow"] = "POST"
        return response


def _has_nul(request: HttpRequest) -> bool:
    # Basic credentials are URL-decoded (RFC 6749 §2.3.1): %00 becomes a NUL too.
    values = [part or "" for part in _basic_credentials(request)]
    if request.method == "POST":
        values += [value for _, found in request.POST.lists() for value in found]
    return any("\x00" in value for value in values)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


def _as_json_error(response: HttpResponse) -> HttpResponse:
    """oauthlib writes its error bodies as JSON but leaves the content type to the caller."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        error = "invalid_client" if response.status_code == 401 else "invalid_request"
        body = {"error": error}
    fixed = _oauth_error(body["error"], body.get("error_description", ""), response.status_code)
    for header in ("WWW-Authenticate", "Allow"):
        if header in response:
            fixed[header] = response[header]
    return fixed


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(BackChannelEndpoint, dot.TokenView):
    """DOT's token endpoint without its post-issue lookup of the new token (one query)."""

    @method_decorator(sensitive_post_parameters("client_secret", "code", "code_verifier"))
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            return _oauth_error("unsupported_grant_type", "The device flow is not offered.", 400)
        _, headers, body, status = self.create_token_response(request)
        if status == 200:
            metrics.token_grant_record(
                issuer="oauth", grant_type=request.POST.get("grant_type", "")
            )
        response = HttpResponse(content=body, status=status)
        for key, value in headers.items():
            response[key] = value
        return response


@method_decorator(csrf_exempt, name="dispatch")  # as DOT's: the dispatch here is ours
@method_decorator(sensitive_post_parameters("client_secret", "token"), name="dispatch")
class RevokeTokenView(BackChannelEndpoint, dot.RevokeTokenView):
    """RFC 7009 on DOT's view, with the back channel's JSON errors and no-store."""


def client_authenticate(request: HttpRequest) -> Application | None:
    """A confidential client by HTTP Basic (RFC 6749 §2.3.1, preferred) or body credentials."""
    client_id, secret = _basic_credentials(request)
    if client_id is None:
        client_id = request.POST.get("client_id")
        secret = request.POST.get("client_secret")
    if not client_id or not secret:
        return None
    application = Application.objects.filter(client_id=client_id).first()
    if application is None or application.client_type != Application.CLIENT_CONFIDENTIAL:
        return None
    stored = application.client_secret
    if not stored.startswith(ALGORITHM + "$") or not services.client_secret_check(
        secret=secret, stored=stored
    ):
        return None
    return application


def _basic_credentials(request: HttpRequest) -> tuple[str | None, str | None]:
    scheme, value = authorization(request)
    if scheme != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_error(error: str, description: str, status: int) -> JsonResponse:
    body = {"error": error, "error_description": description} if description else {"error": error}
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "token"), name="dispatch")
class IntrospectView(BackChannelEndpoint):
    """RFC 7662 for the client's own resource servers: a token issued to another client is
    reported inactive (§2.2), so a token for one application is refused by another."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        client = client_authenticate(request)
        if client is None:
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        raw = request.POST.get("token")
        if not raw:
            return _oauth_error("invalid_request", "The token parameter is missing.", 400)
        token = selectors.access_token_resolve(raw_token=raw)
        if token is None or token.application_id != client.pk or _held_back(token):
            return _no_store({"active": False})
        return _no_store(_introspection(token))


def _held_back(token: selectors.ResolvedAccessToken) -> bool:
    """Its user must change their password first: no resource server may serve them."""
    return token.user is not None and user_password_change_pending(user=token.user)


def _introspection(token: selectors.ResolvedAccessToken) -> dict[str, Any]:
    data: dict[str, Any] = {
        "active": True,
        "scope": token.scope,
        "client_id": token.client_id,
        "token_type": "Bearer",
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "iss": services.issuer(),
        "aud": token.client_id,
    }
    if token.user is not None:
        data.update(sub=str(token.user.public_id), username=token.user.get_username())
    if token.sid:
        data["sid"] = token.sid
    return data


def _no_store(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(View):
    """OIDC Core §5.3; the access token in the Authorization header only (RFC 9700 §4.3.2)."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> JsonResponse:
        raw = bearer_token(request)
        token = selectors.access_token_resolve(raw_token=raw) if raw else None
        # A user who must change their password is served nowhere until they have.
        if token is None or token.user is None or user_password_change_pending(user=token.user):
            return _bearer_error("invalid_token", "The access token is invalid or expired.", 401)
        if "openid" not in token.scopes:
            return _bearer_error("insufficient_scope", "The openid scope is required.", 403)
        return _no_store(user_claims(user=token.user, scopes=token.scopes))

    post = get


def _bearer_error(error: str, description: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{description}"'
    return response


class LogoutView(dot.RPInitiatedLogoutView):
    """OIDC RP-Initiated Logout 1.0: ends the portal session, the OAuth sign-ins it approved
    and the relying party's own sign-in (the id_token_hint's sid).

    The hint only identifies (§2: an expired one is accepted for that); it ends nothing by
    itself. A sign-in ends only from its own user's browser session, so an id_token that
    leaked to a third party cannot sign its user out anywhere."""

    hint_claims: dict[str, Any] | None = None

    def validate_logout_request_user(self, id_token_hint, client_id):
        self.hint_claims = None
        if not id_token_hint:
            return None
        id_token, claims = _hint_load(id_token_hint)
        if id_token is None or not _validate_claims(self.request, claims):
            raise InvalidIDTokenError()
        if client_id and getattr(id_token.application, "client_id", None) != client_id:
            raise ClientIdMissmatch()
        self.hint_claims = claims
        return id_token

    def do_logout(
        self, application=None, post_logout_redirect_uri=None, state=None, token_user=None
    ):
        user = self.request.user
        if user.is_authenticated:
            own = token_user is not None and token_user.pk == user.pk
            services.sign_ins_end_for_browser(
                user=user,
                browser_session_id=self.request.session.get(SESSION_ID_KEY),
                sid=(self.hint_claims or {}).get("sid") if own else None,
            )
            browser_session_end(request=self.request)
        # No token_user: DOT's token deletion (off here) must never reach the hint's user.
        return super().do_logout(application, post_logout_redirect_uri, state, None)

    def get_request_application(self, id_token, client_id):
        # DOT uses .get(): an unknown client_id was a 500. None makes a redirect request fail
        # as invalid_client (400) and a plain logout still work.
        if client_id:
            return Application.objects.filter(client_id=client_id).first()
        return id_token.application if id_token else None

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        # DOT's strict mode allows http only for confidential clients; the portal also lets
        # a public native client register http on a loopback IP literal (RFC 8252 §7.3,
        # sso.models.is_loopback_uri), so that URI, registered exactly, is accepted too.
        if application is not None and is_loopback_uri(post_logout_redirect_uri or ""):
            if not application.post_logout_redirect_uri_allowed(post_logout_redirect_uri):
                raise InvalidOIDCRedirectURIError(
                    "This client does not have this redirect uri registered."
                )
            return
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)


def _hint_load(hint: str) -> tuple[Any, dict[str, Any] | None]:
    """DOT's loader, but a token it cannot place is (None, None), never a 500: the portal's
    first-party id_token (no ``jti``), a JWT whose ``jti`` is no UUID or whose payload is no
    object."""
    try:
        return _load_id_token(hint)
    except (KeyError, TypeError, ValueError, ValidationError):
        return None, None
