"""Admin for OAuth applications: never shows a client secret; is_first_party, is_trusted and
the service account are set only here. Every change goes through sso.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest
from oauth2_provider import admin as oauth2_admin
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from identity.errors import ApplicationError
from sso import services
from sso.errors import NotTrusted
from sso.models import Application, ApplicationInvitation, ApplicationMember, Consent

AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()
Grant, IDToken = get_grant_model(), get_id_token_model()
for _model in (Application, AccessToken, RefreshToken, Grant, IDToken):
    admin.site.unregister(_model)  # django-oauth-toolkit's admin, replaced below

# Whoever sets these decides what everyone signing in through the application hands it (admin
# scopes, no consent) or who manages it: a superuser's decision alone, like the account flags.
PRIVILEGE_FIELDS = ("is_trusted", "is_first_party")


class ApplicationMemberFormSet(forms.BaseInlineFormSet):
    """Saves through application_member_add / application_member_remove: removing a member
    of a restricted application ends their sign-ins, as on the owner's page."""

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> ApplicationMember:
        return services.application_member_add(
            application=self.instance, user=form.cleaned_data["user"]
        )

    def save_existing(
        self, form: forms.ModelForm, obj: ApplicationMember, commit: bool = True
    ) -> ApplicationMember:
        original = ApplicationMember.objects.select_related("user").get(pk=obj.pk)
        if original.user_id != obj.user_id:  # another member in place of this one
            services.application_member_remove(application=self.instance, user=original.user)
        return self.save_new(form, commit)

    def delete_existing(self, obj: ApplicationMember, commit: bool = True) -> None:
        services.application_member_remove(application=self.instance, user=obj.user)


class ApplicationMemberInline(admin.TabularInline):
    model = ApplicationMember
    formset = ApplicationMemberFormSet
    raw_id_fields = ("user",)
    extra = 0


class ApplicationAdminForm(forms.ModelForm):
    def validate_unique(self) -> None:
        """The service refuses a name its owner already uses; here the refusal shows on the
        form (the instance holds the form's values by now), not as an error page."""
        super().validate_unique()
        try:
            services.application_name_check(application=self.instance)
        except ApplicationError as error:
            self.add_error("name", error.message)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationAdminForm
    list_display = (
        "name",
        "client_id",
        "user",
        "client_type",
        "is_first_party",
        "is_trusted",
        "restricted",
    )
    list_filter = ("client_type", "is_first_party", "is_trusted", "restricted")
    search_fields = ("name", "client_id")
    raw_id_fields = ("user",)
    inlines = (ApplicationMemberInline,)
    # client_secret (even hashed) and hash_client_secret are left out entirely: secrets are
    # rotated by their owner, who sees the new one once.
    fields = (
        "name",
        "user",
        "client_id",
        "client_type",
        "authorization_grant_type",
        "description",
        "homepage_url",
        "logo_url",
        "redirect_uris",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
        "allowed_scopes",
        "restricted",
        "is_first_party",
        "is_trusted",
        "service_account",
        "algorithm",
    )
    readonly_fields = (
        "client_id",
        "client_type",
        "authorization_grant_type",
        "algorithm",
        "service_account",
    )
    actions = ("delete_and_revoke", "service_account_create")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        owner = ("user",) if obj is not None else ()  # a new application gets one, once
        return (*fields, *PRIVILEGE_FIELDS, *owner)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The rule of apps.manage (sso.selectors.application_can_manage): an application that
        # holds more than a user's own sign-in is changed by its owner or a superuser only.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self._may_manage(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self._may_manage(request, obj))

    def _may_manage(self, request: HttpRequest, obj: Application) -> bool:
        below = not obj.is_trusted and obj.service_account_id is None
        return below or obj.user_id == request.user.pk or request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Applications are registered by their owners (application_create: a verified owner,
        # a client type, a secret shown once); the admin's form could set none of these.
        return False

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        """Saved in save_related, after the members: restricting the application then ends
        the sign-ins of whoever is not a member once this form is saved."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        services.application_update_by_admin(
            application=form.instance, changed=form.changed_data, actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: Application) -> None:
        services.application_delete(application=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for application in queryset:
            services.application_delete(application=application, actor=request.user)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would skip revocation: use the action below
        return actions

    @admin.action(
        description="Delete selected applications and revoke their tokens", permissions=["delete"]
    )
    def delete_and_revoke(self, request: HttpRequest, queryset: Any) -> None:
        for application in queryset:
            if not self.has_delete_permission(request, application):
                messages.error(request, f"{application.name}: only a superuser may delete it.")
                continue
            services.application_delete(application=application, actor=request.user)
        messages.success(request, "Deleted; their tokens no longer work.")

    @admin.action(
        description="Create a service account (trusted client-credentials apps)",
        permissions=["change"],
    )
    def service_account_create(self, request: HttpRequest, queryset: Any) -> None:
        for application in queryset:
            try:
                account = services.application_service_account_create(application=application)
            except NotTrusted as error:
                messages.error(request, f"{application.name}: {error.message}")
                continue
            messages.success(
                request, f"{application.name} acts as {account.username}: assign it roles."
            )


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """Consent is the user's own word: shown and withdrawn here, never given or widened in
    their place (it would let an application take codes without asking them)."""

    list_display = ("user", "application", "scope", "updated_at")
    raw_id_fields = ("user", "application")
    search_fields = ("application__name", "user__username")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Consent) -> None:
        services.consent_withdraw(consent=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for consent in queryset:
            services.consent_withdraw(consent=consent)


@admin.register(ApplicationInvitation)
class ApplicationInvitationAdmin(admin.ModelAdmin):
    """Pending invitations, to look at or withdraw. Made only by an owner's invite, whose link
    secret exists only in the invitee's mailbox (its hash is left out here)."""

    list_display = ("login", "application", "invited_by", "created_at", "expires_at")
    search_fields = ("login", "application__name", "application__client_id")
    fields = ("application", "login", "user", "invited_by", "created_at", "expires_at")
    readonly_fields = fields
    list_select_related = ("application", "invited_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ApplicationInvitation) -> None:
        services.application_invitation_withdraw(
            application=obj.application, public_id=str(obj.public_id)
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for invitation in queryset.select_related("application"):
            self.delete_model(request, invitation)


class _IssuedByFlows:
    """Codes and tokens are issued by the OAuth flows: shown (masked), never edited or deleted
    by hand here, where a changed scope, owner or expiry would outlive the copies that the
    token cache and the sign-in hold."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Signing people out is a change, not a look: sessions.revoke, as for UserSession."""
        return request.user.has_perm("sessions.revoke")


class _RevokedBySignIn(_IssuedByFlows):
    """Revoking a token ends its whole sign-in, as every other revocation does."""

    kind = ""  # "access" or "refresh": which ids the service is given

    @admin.action(description="Revoke (end the sign-in on every channel)", permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: Any) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        services.oauth_tokens_revoke_by_admin(**{f"{self.kind}_token_ids": ids})
        messages.success(request, f"Revoked {len(ids)} {self.kind} token(s) and their sign-ins.")


@admin.register(AccessToken)
class AccessTokenAdmin(_RevokedBySignIn, oauth2_admin.AccessTokenAdmin):
    kind = "access"


@admin.register(RefreshToken)
class RefreshTokenAdmin(_RevokedBySignIn, oauth2_admin.RefreshTokenAdmin):
    kind = "refresh"


@admin.register(Grant)
class GrantAdmin(_IssuedByFlows, oauth2_admin.GrantAdmin):
    pass


@admin.register(IDToken)
class IDTokenAdmin(_IssuedByFlows, oauth2_admin.IDTokenAdmin):
    pass
