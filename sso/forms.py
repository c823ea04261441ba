"""Forms of the developer pages: they validate, the services decide."""

from __future__ import annotations

from django import forms
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from identity.api.scopes import ADMIN_SCOPES
from sso.models import DEFAULT_ALLOWED_SCOPES


def _scope_choices() -> list[tuple[str, str]]:
    # The administration scopes are granted by administrators only (sso.admin); an owner's
    # edit keeps those the application holds (sso.services.application_update).
    return [
        (name, f"{name}: {text}")
        for name, text in oauth2_settings.SCOPES.items()
        if name not in ADMIN_SCOPES
    ]


class ApplicationForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(max_length=1000, required=False, widget=forms.Textarea)
    homepage_url = forms.URLField(
        label="Homepage", max_length=500, required=False, assume_scheme="https"
    )
    logo_url = forms.URLField(
        label="Logo URL", max_length=500, required=False, assume_scheme="https"
    )
    redirect_uris = forms.CharField(
        label="Redirect URIs",
        required=False,
        widget=forms.Textarea,
        help_text="One per line, exactly as your application sends them.",
    )
    post_logout_redirect_uris = forms.CharField(
        label="Sign-out redirect URIs",
        required=False,
        widget=forms.Textarea,
        help_text="Where the portal may send users back after signing out; one per line.",
    )
    backchannel_logout_uri = forms.URLField(
        label="Back-channel logout URI",
        max_length=2000,
        required=False,
        assume_scheme="https",
        help_text="The portal POSTs a logout token here when a user's sign-in to your "
        "application ends (OpenID Connect Back-Channel Logout 1.0).",
    )
    backchannel_logout_session_required = forms.BooleanField(
        label="Logout token must carry sid",
        required=False,
        help_text="Your application identifies sign-ins by the id_token's sid.",
    )
    allowed_scopes = forms.MultipleChoiceField(
        label="Scopes it may request",
        choices=_scope_choices,
        widget=forms.CheckboxSelectMultiple,
        initial=DEFAULT_ALLOWED_SCOPES.split(),
    )
    restricted = forms.BooleanField(
        label="Members only", required=False, help_text="Only members you add may sign in."
    )

    def clean_allowed_scopes(self) -> str:
        return " ".join(self.cleaned_data["allowed_scopes"])

    def clean_redirect_uris(self) -> str:
        return " ".join(self.cleaned_data["redirect_uris"].split())

    def clean_post_logout_redirect_uris(self) -> str:
        return " ".join(self.cleaned_data["post_logout_redirect_uris"].split())


class ApplicationCreateForm(ApplicationForm):
    KIND_CHOICES = [
        ("confidential", "Web application with a server (confidential, has a client secret)"),
        ("public", "Single-page or native application (public, PKCE only)"),
        ("service", "Service without users (client credentials)"),
    ]
    kind = forms.ChoiceField(label="Kind", choices=KIND_CHOICES, widget=forms.RadioSelect)

    field_order = ["name", "kind"]

    def service_args(self) -> dict:
        data = dict(self.cleaned_data)
        kind = data.pop("kind")
        data["client_type"] = (
            AbstractApplication.CLIENT_PUBLIC
            if kind == "public"
            else AbstractApplication.CLIENT_CONFIDENTIAL
        )
        data["service"] = kind == "service"
        return data


class MemberAddForm(forms.Form):
    login = forms.CharField(label="Username or email", max_length=254)
