"""manage.py purge_login_history: delete sign-in events older than the retention period."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.services.history import login_history_purge


class Command(BaseCommand):
    help = "Delete login events older than LOGIN_HISTORY_RETENTION_DAYS, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.LOGIN_HISTORY_RETENTION_DAYS)
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = login_history_purge(
            older_than_days=options["days"], batch_size=options["batch_size"]
        )
        self.stdout.write(f"Deleted {deleted} login events older than {options['days']} days.")
