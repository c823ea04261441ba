"""Creates a signing key when the database holds none; safe to run on every start of every node."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from identity.keys import ensure_signing_key, signing_keys


class Command(BaseCommand):
    help = (
        "Create an RSA signing key in the database if there is none (idempotent, one key even "
        "when several nodes run it at once). The first run imports the *.pem files an older "
        "release kept in SIGNING_KEYS_DIR instead."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        key = ensure_signing_key()
        if key is None:
            active = signing_keys().active
            self.stdout.write(f"Signing key {active.kid} is active.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Created signing key {key.kid}."))
