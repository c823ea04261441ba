"""Sign-up, email verification, sign-in and out, first-sign-in and password-reset pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts import forms, services
from accounts.errors import (
    ApplicationError,
    EmailNotVerified,
    LinkInvalid,
    MfaEnrollmentRequired,
    MfaRequired,
)
from accounts.selectors import user_get_by_login, user_get_by_public_id
from accounts.services.sessions import SESSION_ID_KEY, reauthentication_pending
from accounts.views.base import (
    PENDING_VERIFICATION_KEY,
    RESEND_MESSAGE,
    SIGNUP_EMAIL_KEY,
    AnonymousOnlyMixin,
    ServiceFormView,
    link_invalid,
    safe_next,
    secret_page,
)

# The account that gave the right password but has not verified its email yet: only that
# visitor may ask for a new link to it, without learning or typing the address.
from accounts.views.verify import second_step_redirect
from identity.csp import form_action_allow_next
from identity.ratelimit import page_limit
from identity.timing import response_floor


class SignUpView(AnonymousOnlyMixin, ServiceFormView):
    template_name = "accounts/signup.html"
    form_class = forms.SignUpForm

    def perform(self, form: Form) -> HttpResponse:
        data = form.cleaned_data
        if limited := page_limit(self.request, scope="signup", identifier=data["email"]):
            return limited
        user = services.user_sign_up(
            username=data["username"],
            email=data["email"],
            password=data["password"],
            conceal_taken_email=True,
            profile=form.profile(),
        )
        self.request.session[SIGNUP_EMAIL_KEY] = user.email if user else data["email"].lower()
        return redirect("accounts:signup_done")


class SignUpDoneView(TemplateView):
    template_name = "accounts/signup_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(email=self.request.session.get(SIGNUP_EMAIL_KEY), **kwargs)


@method_decorator(never_cache, name="dispatch")
class VerifyEmailView(View):
    """GET only asks (mail scanners prefetch links); the POST uses the link up."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return render(request, "accounts/verify_email.html")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            services.email_verify(token=token)
        except ApplicationError as error:
            return link_invalid(
                request,
                message=error.message,
                retry=reverse("accounts:verify_email_resend"),
                retry_label="Send a new link",
            )
        messages.success(request, "Your email address is confirmed.")
        return redirect("home" if request.user.is_authenticated else "accounts:login")


class VerifyEmailResendView(ServiceFormView):
    template_name = "accounts/verify_email_resend.html"
    form_class = forms.EmailForm

    def perform(self, form: Form) -> HttpResponse:
        email = form.cleaned_data["email"]
        if limited := page_limit(self.request, scope="verify_resend", identifier=email):
            return limited
        with response_floor():
            services.email_verification_resend(email=email)
        messages.info(self.request, RESEND_MESSAGE)
        return redirect("home" if self.request.user.is_authenticated else "accounts:login")


class VerifyEmailResendPendingView(View):
    """Resends the link to the account whose password was just given on the login page."""

    def post(self, request: HttpRequest) -> HttpResponse:
        public_id = request.session.pop(PENDING_VERIFICATION_KEY, None)
        user = user_get_by_public_id(public_id=public_id) if public_id else None
        if user is None:
            return redirect("accounts:verify_email_resend")
        if limited := page_limit(request, scope="verify_resend", identifier=user.email):
            return limited
        services.email_verification_resend(email=user.email)
        messages.info(request, "We sent a new link to your email address. Open it, then sign in.")
        return redirect("accounts:login")


# -- signing in and out ---------------------------------------------------------------------


@secret_page
class LoginView(ServiceFormView):
    template_name = "accounts/login.html"
    form_class = forms.LoginForm
    unverified = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A signed-in browser is asked again only when an authorization request needs a fresh
        # sign-in (prompt=login, max_age); otherwise it goes straight on.
        if request.user.is_authenticated and not reauthentication_pending(request=request):
            return redirect(safe_next(request) or "home")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        extra = {"next": safe_next(self.request), "unverified": self.unverified}
        return super().get_context_data(**extra, **kwargs)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        # Signing in during an authorization request may redirect straight on to the client.
        response = super().render_to_response(context, **kwargs)
        return form_action_allow_next(response, next_url=context["next"])

    def perform(self, form: Form) -> HttpResponse:
        login = form.cleaned_data["username"]
        if limited := page_limit(self.request, scope="login", identifier=login):
            return limited
        try:
            services.browser_sign_in(
                request=self.request, login=login, password=form.cleaned_data["password"]
            )
        except EmailNotVerified:
            self._remember_unverified(login)
            raise
        except (MfaRequired, MfaEnrollmentRequired) as step:
            return second_step_redirect(self.request, step)
        self.request.session.pop(PENDING_VERIFICATION_KEY, None)
        return redirect(safe_next(self.request) or "home")

    def _remember_unverified(self, login: str) -> None:
        # Only reached after the right password: the visitor already proved the account.
        user = user_get_by_login(login=login)
        if user is not None:
            self.request.session[PENDING_VERIFICATION_KEY] = str(user.public_id)
            self.unverified = True


@method_decorator(never_cache, name="dispatch")
class LogoutView(View):
    """Only a POST signs out: a GET (a link, an image, a prefetch) must not. A GET (a bookmark,
    a typed URL) asks "Sign out?" with the POST button, as allauth does."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("accounts:login")
        return render(request, "accounts/logout.html")

    def post(self, request: HttpRequest) -> HttpResponse:
        services.browser_session_end(request=request)
        messages.info(request, "You have been signed out.")
        return redirect("accounts:login")


@secret_page
class ConfirmAccountView(LoginRequiredMixin, ServiceFormView):
    template_name = "accounts/confirm_account.html"
    form_class = forms.NewPasswordForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not request.user.must_change_password:
            return redirect("home")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(next=safe_next(self.request), **kwargs)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        # An authorization request interrupted for the password goes on to the client after.
        response = super().render_to_response(context, **kwargs)
        return form_action_allow_next(response, next_url=context["next"])

    def perform(self, form: Form) -> HttpResponse:
        user = self.request.user
        services.account_confirm(
            user=user,
            keep_session_id=self.request.session.get(SESSION_ID_KEY),
            **form.cleaned_data,
        )
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your new password is set. Welcome!")
        return redirect(safe_next(self.request) or "home")


# -- password reset and change --------------------------------------------------------------


class PasswordResetView(ServiceFormView):
    """Open to signed-in users too: forgetting the password is the reason to be here."""

    template_name = "accounts/password_reset.html"
    form_class = forms.PasswordResetRequestForm

    def perform(self, form: Form) -> HttpResponse:
        login = form.cleaned_data["login"]
        if limited := page_limit(self.request, scope="password_reset", identifier=login):
            return limited
        with response_floor():
            services.password_reset_request(login=login)
        return redirect("accounts:password_reset_done")


class PasswordResetDoneView(TemplateView):
    template_name = "accounts/password_reset_done.html"


@secret_page
class PasswordResetConfirmView(ServiceFormView):
    """Also the landing page of an administrator's invitation: "Choose a new password"."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = forms.NewPasswordForm

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            services.password_reset_link_check(token=self.kwargs["token"])
        except LinkInvalid as error:
            return self._invalid(error)
        return super().get(request, *args, **kwargs)

    def perform(self, form: Form) -> HttpResponse:
        try:
            services.password_reset_confirm(token=self.kwargs["token"], **form.cleaned_data)
        except LinkInvalid as error:
            return self._invalid(error)
        messages.success(self.request, "Your password has been changed; sign in with it now.")
        return redirect("accounts:login")

    def _invalid(self, error: LinkInvalid) -> HttpResponse:
        return link_invalid(
            self.request,
            message=error.message,
            retry=reverse("accounts:password_reset"),
            retry_label="Ask for a new link",
        )
