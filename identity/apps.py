"""App config for the project package (cross-app pieces: API errors, health views, the
webhook sender and target finder)."""

from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity portal"

    def ready(self) -> None:
        from django.core import checks
        from django.core.signals import request_finished

        from identity.events import SENDERS, target_finder_add
        from identity.observe import request_id_clear
        from identity.ratelimit import rate_limits_check
        from identity.webhooks.delivery import WEBHOOK_KIND, webhook_send, webhook_targets

        checks.register(rate_limits_check)
        # Django logs a 4xx/5xx (django.request) after the middleware returned: the request's
        # id stays set until the response is finished.
        request_finished.connect(request_id_clear, dispatch_uid="identity.request_id_clear")
        # Webhook endpoints: every event reaches the endpoints subscribed to its type.
        SENDERS[WEBHOOK_KIND] = webhook_send
        target_finder_add(webhook_targets)
