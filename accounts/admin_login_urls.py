"""/admin/login/: the admin's sign-in with its second step (accounts.admin_login)."""

from __future__ import annotations

from django.urls import path

from accounts.admin_login import admin_login

urlpatterns = [path("", admin_login, name="admin_login")]
