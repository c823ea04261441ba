"""The user's sign-in methods (/accounts/security/): second factors and recovery codes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from accounts import selectors


class SecurityView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        factors = selectors.user_factors(user=self.request.user)
        return super().get_context_data(factors=factors, **kwargs)
