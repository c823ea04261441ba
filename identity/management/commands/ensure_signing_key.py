"""Creates a signing key when the key directory holds none; safe to run on every start."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from identity.keys import ensure_signing_key, keys_dir


class Command(BaseCommand):
    help = "Create an RSA signing key in SIGNING_KEYS_DIR if there is none (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        key = ensure_signing_key()
        if key is None:
            self.stdout.write(f"A signing key already exists in {keys_dir()}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Created signing key {key.kid}."))
