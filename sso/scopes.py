"""Scopes per application: each may request only the scopes it was registered with, and the
administration scopes only while an administrator trusts it (at authorize and token time)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import SettingsScopes

from identity.api.scopes import ADMIN_SCOPES


class ApplicationScopes(SettingsScopes):
    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        everything = super().get_available_scopes(application, request, *args, **kwargs)
        if application is None:
            return everything
        allowed = set(application.scope_list)
        if not application.is_trusted:
            # A self-registered application never drives the administration API, whatever
            # its registration says (oauthlib answers invalid_scope).
            allowed -= ADMIN_SCOPES
        return [scope for scope in everything if scope in allowed]

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        available = self.get_available_scopes(application, request)
        return [s for s in super().get_default_scopes(application, request) if s in available]
