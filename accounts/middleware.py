"""Keeps a user who must change their password on the password-change page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.services.sessions import (
    SESSION_ID_KEY,
    browser_session_adopt,
    session_touch,
    sid_is_revoked,
)

# Paths a user who must change their password may still reach.
_ALLOWED_NAMES = ("accounts:confirm_account", "accounts:logout")


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.must_change_password
            and not request.path.startswith(("/static/", "/api/", "/o/"))
            and request.path not in {reverse(name) for name in _ALLOWED_NAMES}
        ):
            return redirect("accounts:confirm_account")
        return self.get_response(request)


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
