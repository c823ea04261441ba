"""Deletes sign-ins (UserSession rows) expired or revoked more than N days ago, and the
short-lived steps of signing in that ended: pending second steps, unanswered passkey challenges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services.mfa.passkeys import passkey_challenges_purge
from accounts.services.mfa.pending import pending_sign_ins_purge
from accounts.services.sessions import sessions_purge


class Command(BaseCommand):
    help = "Delete UserSession rows expired or revoked more than --days days ago, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="Retention in days (30).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per DELETE.")

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = sessions_purge(
            older_than=timedelta(days=max(options["days"], 0)),
            batch_size=max(options["batch_size"], 1),
        )
        self.stdout.write(f"Deleted {deleted} expired or revoked sessions.")
        steps = pending_sign_ins_purge() + passkey_challenges_purge()
        self.stdout.write(f"Deleted {steps} ended sign-in steps and passkey challenges.")
