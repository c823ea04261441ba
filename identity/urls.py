"""The portal's URL map (see ARCHITECTURE.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from identity import jwks, views
from identity.api import errors

api_v1 = (
    [
        path("", include("accounts.api.urls")),
        path("", include("authz.api.urls")),
        path("", include("sso.api.urls")),
    ],
    "api",
)

# Django tries patterns in order: the API, which carries most requests, is tried first (no
# other prefix overlaps it), so that resolving an API path does not walk the page includes.
urlpatterns = [
    path("api/v1/", include(api_v1, namespace="api")),
    path("", include("accounts.home_urls")),
    # sso pages: /developers/apps/, and /accounts/apps/ (connected apps) with its revoke.
    path("", include("sso.pages_urls")),
    path("accounts/", include("accounts.urls")),
    path("o/", include("sso.urls")),
    # The admin's sign-in with its second step (before admin/, whose login it wraps).
    path("admin/login/", include("accounts.admin_login_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves its init script from a URL: the CSP forbids inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path(".well-known/jwks.json", jwks.jwks, name="jwks"),
    # Included by dotted string: identity is the floor and imports no app above it.
    path("", include("sso.wellknown_urls")),
]

if settings.BENCH_URLS:
    # First, so that the bench's baseline pays the least URL resolution any view can.
    urlpatterns.insert(0, path("bench/bare/", views.bench_bare, name="bench_bare"))

# Problems for /api/, the HTML templates for pages.
handler404 = errors.handler404
handler500 = errors.handler500
