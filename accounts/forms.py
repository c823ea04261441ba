"""Forms of the account pages: they validate input only; the services hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password

from accounts.models import phone_validator, username_validator


def _password(label: str, autocomplete: str, *, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def _new_password_help() -> str:
    return (
        f"At least {settings.PASSWORD_MIN_LENGTH} characters. A passphrase of a few "
        "unrelated words is easy to remember and hard to guess."
    )


def _email(label: str = "Email address", **attrs: str) -> forms.EmailField:
    widget = forms.EmailInput(attrs={"autocomplete": "email", **attrs})
    return forms.EmailField(label=label, max_length=254, widget=widget)


def _login_field(autocomplete: str = "username") -> forms.CharField:
    widget = forms.TextInput(
        attrs={"autocomplete": autocomplete, "autocapitalize": "none", "spellcheck": "false"}
    )
    return forms.CharField(label="Username or email", max_length=254, widget=widget)


def _first_name(label: str = "First name") -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": "given-name"})
    return forms.CharField(label=label, max_length=150, required=False, widget=widget)


def _last_name(label: str = "Last name") -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": "family-name"})
    return forms.CharField(label=label, max_length=150, required=False, widget=widget)


def _phone_number(label: str = "Phone number") -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"})
    return forms.CharField(
        label=label, max_length=32, required=False, widget=widget, validators=[phone_validator]
    )


class SignUpForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and . - _ only.",
        validators=[username_validator],
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    email = _email()
    password = _password("Password", "new-password", help_text=_new_password_help())
    password_confirm = _password("Confirm password", "new-password")
    # The form template marks fields that are not required "(optional)".
    first_name = _first_name()
    last_name = _last_name()
    phone_number = _phone_number()

    PROFILE_FIELDS = ("first_name", "last_name", "phone_number")

    def clean_password(self) -> str:
        # Field level, so that a weak password shows with the other fields' errors; the
        # service checks again with the account (UserAttributeSimilarityValidator).
        password = self.cleaned_data["password"]
        validate_password(password)
        return password

    def profile(self) -> dict[str, str]:
        return {field: self.cleaned_data[field] for field in self.PROFILE_FIELDS}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password, confirm = data.get("password"), data.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error("password_confirm", "The two passwords do not match.")
        return data


class LoginForm(forms.Form):
    # django-axes reads the login from the POST field named "username".
    # "webauthn": the browser offers passkeys in the field's autofill (static/js/passkeys.js).
    username = _login_field("username webauthn")
    password = _password("Password", "current-password")


class EmailForm(forms.Form):
    email = _email()


class PasswordResetRequestForm(forms.Form):
    login = _login_field()


class NewPasswordForm(forms.Form):
    new_password = _password("New password", "new-password", help_text=_new_password_help())
    new_password_confirm = _password("Confirm new password", "new-password")


class PasswordChangeForm(forms.Form):
    current_password = _password("Current password", "current-password")
    new_password = _password("New password", "new-password", help_text=_new_password_help())
    new_password_confirm = _password("Confirm new password", "new-password")


class ProfileForm(forms.Form):
    first_name = _first_name()
    last_name = _last_name()
    phone_number = forms.CharField(
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    address = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"autocomplete": "street-address", "rows": 3}),
    )
    date_of_birth = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
    )


# Email change and deletion ask for no password: their pages need a recent proof
# (RecentProofRequiredMixin), given on the re-authentication page.
class EmailChangeForm(forms.Form):
    new_email = _email("New email address")


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that my account and its data will be deleted for good."
    )


class ReauthenticatePasswordForm(forms.Form):
    password = _password("Password", "current-password")


class ReauthenticateCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


# -- second factors (the security pages and forced enrolment) ---------------------------------


class TotpConfirmForm(forms.Form):
    """The first code of the authenticator app being added: proof that it was set up."""

    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        help_text="The 6-digit code the app shows now.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )


# -- the second sign-in step (multi-factor sign-in) -------------------------------------------


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label="Recovery code",
        max_length=64,
        help_text="Each recovery code works once.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "none",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )
