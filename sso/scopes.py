"""Scopes per application: each may request only the scopes it was registered with."""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import SettingsScopes


class ApplicationScopes(SettingsScopes):
    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        everything = super().get_available_scopes(application, request, *args, **kwargs)
        if application is None:
            return everything
        return [scope for scope in everything if scope in application.scope_list]

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        available = self.get_available_scopes(application, request)
        return [s for s in super().get_default_scopes(application, request) if s in available]
