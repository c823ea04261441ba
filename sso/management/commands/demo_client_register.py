"""Registers the demo relying party (sso.demo_client) once and writes its client_id to
var/demo_client.json, where ``python -m sso.demo_client`` reads it (``make demo-client``)."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sso.demo_client import CONFIG_FILE
from sso.services import demo_client_register


class Command(BaseCommand):
    help = "Create or reuse the public PKCE application 'Demo client' (owner demo-owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("DEMO_PORT", "8001")),
            help="Port the demo client listens on, on 127.0.0.1 (DEMO_PORT, 8001).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = f"http://127.0.0.1:{options['port']}"
        application = demo_client_register(base_url=base_url)
        CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
        CONFIG_FILE.write_text(json.dumps({"client_id": application.client_id}, indent=2) + "\n")
        self.stdout.write(f"Demo client {application.client_id} redirects to {base_url}/callback.")
        if application.backchannel_logout_uri:
            self.stdout.write(f"Back-channel logout to {application.backchannel_logout_uri}.")
        else:
            self.stdout.write(
                "No back-channel logout: set WEBHOOK_ALLOW_PRIVATE=true for loopback."
            )
