"""The admin's sign-in goes through the same service as every other channel."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services
from accounts.errors import ApplicationError
from accounts.models import Channel


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
        except ApplicationError as error:
            raise ValidationError(error.message, code=error.code) from error
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
