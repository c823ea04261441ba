"""The portal's URL map (see ARCHITECTURE.md)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from identity import jwks, views

api_v1 = (
    [
        path("", include("accounts.api.urls")),
    ],
    "api",
)

urlpatterns = [
    path("", include("accounts.home_urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1, namespace="api")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(".well-known/jwks.json", jwks.jwks, name="jwks"),
]
