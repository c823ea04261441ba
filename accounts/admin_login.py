"""The admin's sign-in goes through the same service as every other channel, second factor
included: an account with a factor (or that must enrol) continues on the second-step page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts import services
from accounts.errors import ApplicationError, MfaEnrollmentRequired, MfaRequired
from accounts.models import Channel
from accounts.views.verify import second_step_redirect

# Where the form leaves the second step it ran into, for admin_login to continue with.
SECOND_STEP_ATTR = "_admin_second_step"


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin form, with lockout, login history and a UserSession behind it."""

    def clean(self) -> dict[str, Any]:
        login, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if login is None or not password:
            return self.cleaned_data
        try:
            self.user_cache = services.user_authenticate(
                request=self.request,
                login=login,
                password=password,
                channel=Channel.ADMIN,
                allow_password_change=True,
                staff_only=True,  # checked before any success is recorded or lockout reset
            )
        except (MfaRequired, MfaEnrollmentRequired) as step:
            # No session yet: admin_login sends the browser on to the second step.
            setattr(self.request, SECOND_STEP_ATTR, step)
            raise ValidationError(step.message, code=step.code) from step
        except ApplicationError as error:
            raise ValidationError(error.message, code=error.code) from error
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


@never_cache
def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """Django admin's login view, which cannot redirect from its form: a staff account with a
    factor continues on accounts:login_verify (then to ``next``, /admin/ by default), one
    that must enrol on accounts:login_enrol; the admin session starts only after that."""
    response = admin.site.login(request, extra_context)
    step = getattr(request, SECOND_STEP_ATTR, None)
    if step is None:
        return response
    return second_step_redirect(request, step, default_next=reverse("admin:index"))
