"""Makes a new signing key active and prunes keys no live token can still need."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# In accounts, not identity: how long a retired key must verify follows accounts.jwt's leeway.
from accounts.jwt import token_backend
from identity.keys import prune_signing_keys, rotate_signing_key


class Command(BaseCommand):
    help = (
        "Create a new active signing key. Older keys stay in the JWKS and keep verifying; "
        "keys retired longer than the refresh-token lifetime (or --prune-older-than-days) "
        "are deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prune-older-than-days",
            type=int,
            default=None,
            help=(
                "Delete keys retired more than N days ago (default: the refresh-token lifetime). "
                "0 drops every old key at once, for a compromised key: their tokens stop working."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = rotate_signing_key()
        self.stdout.write(self.style.SUCCESS(f"Signing key {key.kid} is now active."))
        for kid in prune_signing_keys(retired_for=_retention(options["prune_older_than_days"])):
            self.stdout.write(f"Pruned signing key {kid}.")


def _retention(days: int | None) -> timedelta:
    """By default a key goes once every refresh token it signed has expired (plus leeway)."""
    if days is not None:
        return timedelta(days=max(days, 0))
    return settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] + token_backend.get_leeway()
