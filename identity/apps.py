"""App config for the project package (cross-app pieces: API errors, health views)."""

from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity portal"

    def ready(self) -> None:
        from django.core import checks

        from identity.ratelimit import rate_limits_check

        checks.register(rate_limits_check)
