"""Where the user is signed in, and every attempt to sign in to their account."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView, TemplateView

from accounts import selectors, services
from accounts.errors import SessionNotFound
from accounts.services.sessions import SESSION_ID_KEY


class SessionsView(LoginRequiredMixin, ListView):
    template_name = "accounts/sessions.html"
    context_object_name = "sessions"

    def get_queryset(self) -> Any:
        return selectors.user_sessions_live(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            current_session_id=self.request.session.get(SESSION_ID_KEY, ""), **kwargs
        )


class SessionRevokeView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
        if str(session_id) == request.session.get(SESSION_ID_KEY):
            services.browser_session_end(request=request)
            messages.success(request, "You have been signed out.")
            return redirect("accounts:login")
        try:
            services.user_session_revoke(
                user=request.user, session_id=str(session_id), reason="signed_out_by_user"
            )
        except SessionNotFound as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "That session has been signed out.")
        return redirect("accounts:sessions")


class SessionsRevokeOthersView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        count = services.user_sessions_revoke(
            user=request.user,
            reason="signed_out_by_user",
            except_session_id=request.session.get(SESSION_ID_KEY),
        )
        messages.success(request, f"Signed out {count} other session(s).")
        return redirect("accounts:sessions")


class LoginHistoryView(LoginRequiredMixin, TemplateView):
    """Pages without a COUNT(*): its cost would grow with the history, the page's must not."""

    template_name = "accounts/history.html"
    page_size = 25

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        page = _page_number(self.request.GET.get("page"))
        start = (page - 1) * self.page_size
        rows = list(
            selectors.login_history_list(user=self.request.user)[start : start + self.page_size + 1]
        )
        return super().get_context_data(
            events=rows[: self.page_size],
            page=page,
            has_next=len(rows) > self.page_size,
            has_previous=page > 1,
            **kwargs,
        )


def _page_number(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), 10_000)
    except ValueError:
        return 1
