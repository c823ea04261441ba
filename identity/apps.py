"""App config for the project package (cross-app pieces: API errors, health views)."""

from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity portal"

    def ready(self) -> None:
        from django.core import checks
        from django.core.signals import request_finished

        from identity.observe import request_id_clear
        from identity.ratelimit import rate_limits_check

        checks.register(rate_limits_check)
        # Django logs a 4xx/5xx (django.request) after the middleware returned: the request's
        # id stays set until the response is finished.
        request_finished.connect(request_id_clear, dispatch_uid="identity.request_id_clear")
