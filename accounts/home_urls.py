"""The landing page: sign-in for visitors, home for signed-in users."""

from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
