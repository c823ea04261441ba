"""REST API routes for accounts (/api/v1/...)."""

from __future__ import annotations

app_name = "accounts"

urlpatterns: list = []
