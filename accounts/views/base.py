"""Shared pieces of the account pages: error placement, safe redirects, form views."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from accounts.errors import ApplicationError

# The account that gave the right password but has not verified its email yet: only that
# visitor may ask for a new link to it, without learning or typing the address.
PENDING_VERIFICATION_KEY = "accounts_pending_verification"
SIGNUP_EMAIL_KEY = "accounts_signup_email"
RESEND_MESSAGE = (
    "If an unverified account uses this address, we sent a new link to it. "
    "Open the link, then sign in."
)

secret_page = method_decorator([sensitive_post_parameters(), never_cache], name="dispatch")


def add_service_error(form: Form, error: Exception, field_map: dict[str, str]) -> None:
    """Puts a service's refusal next to the matching form field, or at the top of the form."""

    def target(field: str | None) -> str | None:
        name = field_map.get(field or "", field)
        return name if name in form.fields else None

    if isinstance(error, ApplicationError):
        form.add_error(target(error.field), error.message)
    elif isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(target(field), errors)
    else:
        form.add_error(None, error)


def safe_next(request: HttpRequest) -> str:
    """The ``next`` parameter when it is a path on this site, else ""."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        return ""
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if allowed else ""


def link_invalid(
    request: HttpRequest, *, message: str, retry: str, retry_label: str
) -> HttpResponse:
    """The page for a used, expired or unknown emailed link, with the way to get a new one."""
    context = {"message": message, "retry_url": retry, "retry_label": retry_label}
    return render(request, "accounts/link_invalid.html", context, status=400)


class ServiceFormView(FormView):
    """A form page whose valid submission goes to ``perform``; refusals go back to the form."""

    field_map: dict[str, str] = {}

    def form_valid(self, form: Form) -> HttpResponse:
        try:
            return self.perform(form)
        except (ApplicationError, ValidationError) as error:
            add_service_error(form, error, self.field_map)
            return self.form_invalid(form)

    def perform(self, form: Form) -> HttpResponse:
        raise NotImplementedError


class AnonymousOnlyMixin:
    """Sends a signed-in visitor home instead of showing a sign-in or sign-up form."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("home")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
