"""Queues again the outbox deliveries whose try was lost with its worker (the worker's sweep
does this every OUTBOX_SWEEP_SECONDS; this is the same, once, by hand or from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from identity.events import deliveries_resume


class Command(BaseCommand):
    help = "Queue again the pending deliveries whose try was lost with its worker."

    def handle(self, *args: Any, **options: Any) -> None:
        count = deliveries_resume()
        self.stdout.write(f"{count} deliveries queued again.")
