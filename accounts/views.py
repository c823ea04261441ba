"""Account pages (placeholder until the pages land)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.views.generic import TemplateView


class HomeView(TemplateView):
    template_name = "home.html"


class LoginView(auth_views.LoginView):
    pass


class LogoutView(auth_views.LogoutView):
    pass


class ConfirmAccountView(TemplateView):
    template_name = "home.html"
