"""App config for authorization: roles, permissions and assignments."""

from __future__ import annotations

from django.apps import AppConfig


class AuthzConfig(AppConfig):
    name = "authz"
    verbose_name = "Authorization"
