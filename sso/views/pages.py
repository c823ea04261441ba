"""Server-rendered pages: /developers/apps/ for owners, /accounts/apps/ for every user."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView

from identity.errors import ApplicationError
from sso import selectors, services
from sso.forms import ApplicationCreateForm, ApplicationForm, MemberAddForm
from sso.models import Application

SECRET_SESSION_KEY = "sso_new_client_secret"  # noqa: S105 - a session key name


class OwnedApplicationMixin(LoginRequiredMixin):
    """Loads the application of the URL; 404 unless the user may manage it."""

    def get_application(self) -> Application:
        application = selectors.application_get(client_id=self.kwargs["client_id"])
        if application is None or not selectors.application_can_manage(
            user=self.request.user, application=application
        ):
            raise Http404
        return application


def _show_secret_once(request: HttpRequest, application: Application, secret: str | None) -> None:
    if secret:
        request.session[SECRET_SESSION_KEY] = [application.client_id, secret]


def _form_errors(form: Any, error: Exception) -> None:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(getattr(error, "field", None), getattr(error, "message", str(error)))


class ApplicationListView(LoginRequiredMixin, TemplateView):
    template_name = "sso/app_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        apps = selectors.application_list(user=self.request.user)
        return super().get_context_data(applications=apps, **kwargs)


class ApplicationCreateView(LoginRequiredMixin, FormView):
    template_name = "sso/app_form.html"
    form_class = ApplicationCreateForm

    def form_valid(self, form: ApplicationCreateForm) -> HttpResponse:
        try:
            application, secret = services.application_create(
                owner=self.request.user, **form.service_args()
            )
        except (ApplicationError, ValidationError) as error:
            _form_errors(form, error)
            return self.form_invalid(form)
        _show_secret_once(self.request, application, secret)
        messages.success(self.request, f"{application.name} is registered.")
        return redirect("sso:app_detail", client_id=application.client_id)


# Shows a new client secret once: no cache may keep a copy (ASVS V3.1 / V8.2.1).
@method_decorator(never_cache, name="dispatch")
class ApplicationDetailView(OwnedApplicationMixin, TemplateView):
    template_name = "sso/app_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        application = self.get_application()
        shown = self.request.session.pop(SECRET_SESSION_KEY, None)
        secret = shown[1] if shown and shown[0] == application.client_id else None
        return super().get_context_data(application=application, client_secret=secret, **kwargs)


class ApplicationUpdateView(OwnedApplicationMixin, FormView):
    template_name = "sso/app_form.html"
    form_class = ApplicationForm

    def get_initial(self) -> dict[str, Any]:
        app = self.get_application()
        fields = (
            "name",
            "description",
            "homepage_url",
            "logo_url",
            "restricted",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
        )
        initial = {name: getattr(app, name) for name in fields}
        initial["redirect_uris"] = "\n".join(app.redirect_uris.split())
        initial["post_logout_redirect_uris"] = "\n".join(app.post_logout_redirect_uris.split())
        initial["allowed_scopes"] = app.scope_list
        return initial

    def form_valid(self, form: ApplicationForm) -> HttpResponse:
        application = self.get_application()
        try:
            services.application_update(
                application=application, actor=self.request.user, **form.cleaned_data
            )
        except (ApplicationError, ValidationError) as error:
            _form_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Changes saved.")
        return redirect("sso:app_detail", client_id=application.client_id)


class ApplicationSecretRotateView(OwnedApplicationMixin, View):
    def post(self, request: HttpRequest, client_id: str) -> HttpResponse:
        application = self.get_application()
        try:
            secret = services.application_secret_rotate(application=application, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            _show_secret_once(request, application, secret)
            messages.success(request, "A new client secret replaces the old one.")
        return redirect("sso:app_detail", client_id=client_id)


class ApplicationDeleteView(OwnedApplicationMixin, TemplateView):
    template_name = "sso/app_delete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(application=self.get_application(), **kwargs)

    def post(self, request: HttpRequest, client_id: str) -> HttpResponse:
        application = self.get_application()
        services.application_delete(application=application, actor=request.user)
        messages.success(request, f"{application.name} is deleted; its tokens no longer work.")
        return redirect("sso:app_list")


class ApplicationMembersView(OwnedApplicationMixin, FormView):
    template_name = "sso/app_members.html"
    form_class = MemberAddForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        application = self.get_application()
        members = selectors.application_member_list(application=application)
        invitations = selectors.application_invitation_list(application=application)
        return super().get_context_data(
            application=application, members=members, invitations=invitations, **kwargs
        )

    def post(self, request: HttpRequest, client_id: str) -> HttpResponse:
        application = self.get_application()
        remove = request.POST.get("remove")
        withdraw = request.POST.get("withdraw")
        if remove:
            user = selectors.member_user_get(application=application, public_id=remove)
            if user is not None:
                services.application_member_remove(application=application, user=user)
                messages.success(request, f"{user.username} is no longer a member.")
            return redirect("sso:app_members", client_id=client_id)
        if withdraw:
            services.application_invitation_withdraw(application=application, public_id=withdraw)
            messages.success(request, "The invitation is withdrawn.")
            return redirect("sso:app_members", client_id=client_id)
        return super().post(request, client_id=client_id)

    def form_valid(self, form: MemberAddForm) -> HttpResponse:
        application = self.get_application()
        invitation = services.application_member_invite(
            application=application, login=form.cleaned_data["login"], invited_by=self.request.user
        )
        # The same answer whether or not the account exists, naming only what was typed.
        messages.success(
            self.request,
            f"{invitation.login} is invited. If an account exists for it, its holder can accept "
            "and then appears as a member.",
        )
        return redirect("sso:app_members", client_id=application.client_id)


@method_decorator(never_cache, name="dispatch")
class InvitationAcceptView(LoginRequiredMixin, View):
    """The invited account's answer; any link it may not use is the same 404 page."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = services.application_invitation_get(raw=token, user=request.user)
        except ApplicationError:
            return _invitation_invalid(request)
        context = {"application": invitation.application}
        return render(request, "sso/invitation_accept.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            application = services.application_invitation_accept(raw=token, user=request.user)
        except ApplicationError:
            return _invitation_invalid(request)
        messages.success(request, f"You are now a member of {application.name}.")
        return redirect("sso:connected_apps")


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "sso/invitation_invalid.html", status=404)


class ConnectedAppListView(LoginRequiredMixin, TemplateView):
    template_name = "sso/connected_apps.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        consents = selectors.connected_app_list(user=self.request.user)
        return super().get_context_data(consents=consents, **kwargs)


class ConnectedAppRevokeView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, client_id: str) -> HttpResponse:
        application = selectors.application_get(client_id=client_id)
        if application is None:
            raise Http404
        services.connected_app_revoke(user=request.user, application=application)
        messages.success(request, f"{application.name} can no longer use your account.")
        return redirect("sso:connected_apps")


def not_member(request: HttpRequest, application: Application) -> HttpResponse:
    return render(request, "sso/not_member.html", {"application": application}, status=403)
