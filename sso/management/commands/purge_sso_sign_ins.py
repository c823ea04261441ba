"""Deletes OAuth sign-in rows whose code is gone and whose session is no longer live.

Run after DOT's ``cleartokens`` (which deletes the expired and consumed codes), e.g. daily:
``manage.py cleartokens && manage.py purge_sso_sign_ins``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sso.services import sign_ins_purge


class Command(BaseCommand):
    help = "Delete stale OAuth sign-in rows (sso.SignIn), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per DELETE.")

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = sign_ins_purge(batch_size=max(options["batch_size"], 1))
        self.stdout.write(f"Deleted {deleted} stale OAuth sign-ins.")
