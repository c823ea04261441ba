"""App config for single sign-on (OAuth 2.0 / OpenID Connect on django-oauth-toolkit)."""

from __future__ import annotations

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"
