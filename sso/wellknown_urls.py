"""Discovery documents under /.well-known/ (mounted at the root by identity/urls.py).

No app_name: their names (openid_configuration, oauth_authorization_server) stay global."""

from __future__ import annotations

from django.urls import path

from sso.views import discovery

urlpatterns = [
    path(
        ".well-known/openid-configuration",
        discovery.openid_configuration,
        name="openid_configuration",
    ),
    path(
        ".well-known/oauth-authorization-server",
        discovery.authorization_server_metadata,
        name="oauth_authorization_server",
    ),
]
