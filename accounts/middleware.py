"""Keeps a user who must change their password on the password-change page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.selectors import user_password_change_pending
from accounts.services.sessions import (
    SESSION_ID_KEY,
    browser_session_adopt,
    session_touch,
    sid_is_revoked,
)

# Paths a user who must change their password may still reach.
_ALLOWED_NAMES = ("accounts:confirm_account", "accounts:logout")
# The browser pages under /o/ that act for the signed-in user; the rest of /o/ (token,
# revocation, introspection, userinfo) never reads the browser session.
_OAUTH_PAGE_NAMES = ("oauth2_provider:authorize",)


class PasswordChangeRequiredMiddleware:
    """The page channel of the forced password change: every page but the password choice and
    sign-out sends the user there first, an authorization request included (it continues
    afterwards through ``next``). The REST API refuses in its authentication classes
    (accounts.api.authentication), tokens at refresh: all ask user_password_change_pending."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user_password_change_pending(user=user)
            and _is_page(request.path)
            and request.path not in {reverse(name) for name in _ALLOWED_NAMES}
        ):
            return _to_password_choice(request)
        return self.get_response(request)


def _is_page(path: str) -> bool:
    if path.startswith(("/static/", "/api/")):
        return False
    return not path.startswith("/o/") or path in {reverse(name) for name in _OAUTH_PAGE_NAMES}


def _to_password_choice(request: HttpRequest) -> HttpResponse:
    target = reverse("accounts:confirm_account")
    if request.method == "GET" and request.path.startswith("/o/"):
        # The authorization request continues once the password is set (OIDC Core §3.1.2.3:
        # the server may ask the user for anything before it answers the client).
        target = f"{target}?{urlencode({'next': request.get_full_path()})}"
    return redirect(target)


class UserSessionMiddleware:
    """Ends a browser session whose sign-in was revoked elsewhere; keeps last-seen fresh.

    Revocation already deletes the Django session row; the cached revoked-sid check also
    covers a session engine that caches rows, at the price of one cache read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        session_id = session.get(SESSION_ID_KEY) if session is not None else None
        if session_id:
            if sid_is_revoked(session_id):
                logout(request)
            else:
                session_touch(session_id=session_id)
        response = self.get_response(request)
        if session is not None and not session_id and _signed_in_elsewhere(request):
            browser_session_adopt(request=request)
        return response


def _signed_in_elsewhere(request: HttpRequest) -> bool:
    """Signed in during this request by a view that is not ours (no UserSession yet)."""
    user = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and request.session.get("_auth_user_id")
        and not request.session.get(SESSION_ID_KEY)
    )
