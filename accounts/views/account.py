"""The signed-in user's own pages: home, password, profile, email, deletion."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from accounts import forms, services
from accounts.services.sessions import SESSION_ID_KEY
from accounts.views.base import (
    ServiceFormView,
    secret_page,
)
from accounts.views.reauth import RecentProofRequiredMixin


class HomeView(TemplateView):
    template_name = "home.html"


@secret_page
class PasswordChangeView(LoginRequiredMixin, RecentProofRequiredMixin, ServiceFormView):
    """Also asks for the current password, as Django's password change does."""

    template_name = "accounts/password_change.html"
    form_class = forms.PasswordChangeForm

    def perform(self, form: Form) -> HttpResponse:
        user = self.request.user
        services.password_change(
            user=user,
            keep_session_id=self.request.session.get(SESSION_ID_KEY),
            request=self.request,
            **form.cleaned_data,
        )
        update_session_auth_hash(self.request, user)
        messages.success(
            self.request,
            "Your password has been changed. Every other device signed in to your account "
            "has been signed out.",
        )
        return redirect("home")


# -- profile, email, deletion ---------------------------------------------------------------


# Personal data (phone, address, birth date): no cache keeps a copy (ASVS V8.2.1).
@secret_page
class ProfileView(LoginRequiredMixin, ServiceFormView):
    template_name = "accounts/profile.html"
    form_class = forms.ProfileForm

    def get_initial(self) -> dict[str, Any]:
        profile = getattr(self.request.user, "profile", None)
        if profile is None:
            return {}
        return {name: getattr(profile, name) for name in forms.ProfileForm.base_fields}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        pending = services.email_change_pending(user=self.request.user)
        return super().get_context_data(pending_email=pending, **kwargs)

    def perform(self, form: Form) -> HttpResponse:
        services.profile_update(
            user=self.request.user, data=form.cleaned_data, actor=self.request.user
        )
        messages.success(self.request, "Your profile has been saved.")
        return redirect("accounts:profile")


@secret_page
class EmailChangeView(LoginRequiredMixin, RecentProofRequiredMixin, ServiceFormView):
    template_name = "accounts/email_change.html"
    form_class = forms.EmailChangeForm
    field_map = {"email": "new_email"}

    def perform(self, form: Form) -> HttpResponse:
        new_email = form.cleaned_data["new_email"]
        services.email_change_request_own(
            user=self.request.user,
            new_email=new_email,
            request=self.request,
            session_id=self.request.session.get(SESSION_ID_KEY),
        )
        messages.info(
            self.request,
            f"We sent a confirmation link to {new_email.strip().lower()}. "
            "Your address changes once you open it.",
        )
        return redirect("accounts:profile")


@secret_page
class DeleteAccountView(LoginRequiredMixin, RecentProofRequiredMixin, ServiceFormView):
    """Proven by the recent proof the mixin asks for; the form only confirms the intent."""

    template_name = "accounts/delete.html"
    form_class = forms.DeleteAccountForm

    def perform(self, form: Form) -> HttpResponse:
        services.user_delete(
            user=self.request.user,
            session_id=self.request.session.get(SESSION_ID_KEY),
            request=self.request,
        )
        services.browser_session_end(request=self.request)
        messages.success(self.request, "Your account and its data have been deleted.")
        return redirect("accounts:login")
