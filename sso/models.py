"""The OAuth application model, swapped in for django-oauth-toolkit's own."""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import AbstractApplication


class Application(AbstractApplication):
    """A client application. DOT's ``user`` field is its owner."""

    description = models.TextField(max_length=1000, blank=True)
    homepage_url = models.URLField(max_length=500, blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    is_first_party = models.BooleanField(
        default=False, help_text="Set by admins only: users are not asked for consent."
    )
    restricted = models.BooleanField(
        default=False, help_text="Only members of this application may sign in to it."
    )

    class Meta(AbstractApplication.Meta):
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="sso_application_owner_name"),
        ]
