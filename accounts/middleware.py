"""Keeps a user who must change their password on the password-change page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

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
