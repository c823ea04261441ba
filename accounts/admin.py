"""Django admin for accounts: users with their profile, email-domain rules, login history."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts import services
from accounts.admin_login import AdminLoginForm
from accounts.errors import ApplicationError
from accounts.models import (
    EmailDomainRule,
    LoginEvent,
    Profile,
    User,
    UserSession,
    UserType,
    phone_validator,
)
from accounts.selectors import totp_last_used_at, user_factors
from accounts.services.domain_rules import ADMIN_REFUSAL
from accounts.services.lockouts import lockout_lift
from accounts.services.mfa import user_mfa_reset_by_admin
from authz.admin import RoleAssignmentInline
from authz.selectors import account_action_check, account_action_refusal
from identity.admin import CreatedByServiceAdmin, ReadOnlyAdmin

# Whoever may set these makes superusers and staff: a superuser's decision alone (issue 16.3).
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "user_permissions", "groups")


class ProfileFormSet(forms.BaseInlineFormSet):
    """Saves through profile_update, like the account page and the users API."""

    actor: Any = None  # set per request by ProfileInline.get_formset

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Profile:
        return self._save(form)

    def save_existing(self, form: forms.ModelForm, obj: Profile, commit: bool = True) -> Profile:
        return self._save(form)

    def _save(self, form: forms.ModelForm) -> Profile:
        # Only what the admin changed: the user may be editing other fields of their profile.
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        return services.profile_update(user=self.instance, data=data, actor=self.actor)


class ProfileInline(admin.StackedInline):
    model = Profile
    formset = ProfileFormSet
    can_delete = False
    fields = ("first_name", "last_name", "phone_number", "address", "date_of_birth")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # The administrator is the change's actor (user.updated).
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


class EmailVerifiedFilter(admin.SimpleListFilter):
    title = "email verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in {"yes", "no"}:
            return queryset.filter(email_verified_at__isnull=self.value() == "no")
        return queryset


def domain_rules_checked(form: forms.Form, data: dict[str, Any]) -> dict[str, Any]:
    """The email-domain rules on an admin form's address, unless the admin ticked the
    exception. The service refuses it too; here the refusal shows next to the field."""
    email = data.get("email")
    if email and not data.get("ignore_domain_rules"):
        try:
            services.email_domain_rules_apply(
                email=services.normalise_email(email), message=ADMIN_REFUSAL
            )
        except ApplicationError as error:
            form.add_error("email", error.message)
    return data


class UserCreateForm(forms.ModelForm):
    """What an admin gives for a new account; the service does the rest."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="A temporary password the user must change at first sign-in. "
        "Leave empty to email the user an invitation to choose one.",
    )
    email_verified = forms.BooleanField(
        required=False, help_text="Tick only if you know this address belongs to the user."
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    phone_number = forms.CharField(max_length=32, required=False, validators=[phone_validator])
    ignore_domain_rules = forms.BooleanField(
        required=False,
        label="Ignore email-domain rules",
        help_text="An exception for this address to the allow and block rules; it is recorded "
        "in the account's history with your name.",
    )

    class Meta:
        model = User
        fields = ("username", "email", "user_type", "is_staff")

    def clean(self) -> dict[str, Any]:
        return domain_rules_checked(self, super().clean())


class UserChangeAdminForm(UserChangeForm):
    """The change form; a new email address is taken as the users API takes it."""

    ignore_domain_rules = forms.BooleanField(
        required=False,
        label="Ignore email-domain rules",
        help_text="For a new email address: an exception to the allow and block rules, "
        "recorded in the account's history with your name.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        return domain_rules_checked(self, data) if "email" in self.changed_data else data


# The administrator setting a password (AdminPasswordSetForm is built by Django's view).
_acting: ContextVar[Any] = ContextVar("accounts_admin_acting", default=None)


class AdminPasswordSetForm(AdminPasswordChangeForm):
    """Django's admin password form, saved through the service that ends every sign-in."""

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data["password1"] if usable else None
        services.password_set_by_admin(user=self.user, password=password, actor=_acting.get())
        return self.user


# Admin sign-ins go through the sign-in service: lockout, login history and session rows.
admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(CreatedByServiceAdmin, DjangoUserAdmin):
    add_form = UserCreateForm
    form = UserChangeAdminForm
    change_password_form = AdminPasswordSetForm
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "username",
                    "email",
                    "user_type",
                    "is_staff",
                    "password",
                    "email_verified",
                    "ignore_domain_rules",
                )
            },
        ),
        ("Profile (optional)", {"fields": ("first_name", "last_name", "phone_number")}),
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_id",
                    "username",
                    "email",
                    "ignore_domain_rules",
                    "user_type",
                    "password",
                ),
                # A new address is the account's once its owner follows the link sent to it.
                "description": "A new email address is sent a confirmation link; the account "
                "keeps its current address until the link is used.",
            },
        ),
        ("Status", {"fields": ("is_active", "email_verified_at", "must_change_password")}),
        ("Second factors", {"fields": ("mfa_on", "second_factors")}),
        ("Permissions", {"fields": ("is_staff", "is_superuser", "is_service_account")}),
        ("Dates", {"fields": ("date_joined", "updated_at")}),
    )
    readonly_fields = (
        "public_id",
        "date_joined",
        "updated_at",
        "is_service_account",
        "mfa_on",
        "second_factors",
    )
    list_display = (
        "username",
        "email",
        "user_type",
        "is_active",
        "email_verified",
        "mfa_on",
        "date_joined",
    )
    list_filter = (
        "user_type",
        "is_active",
        EmailVerifiedFilter,
        "mfa_enabled",
        "is_staff",
        "is_service_account",
    )
    search_fields = ("username", "email")
    ordering = ("username",)
    filter_horizontal = ()
    # authz's inline, included here: accounts builds on authz, never the other way round.
    inlines = [ProfileInline, RoleAssignmentInline]
    actions = [
        "deactivate",
        "send_password_reset",
        "mark_email_verified",
        "require_password_change",
        "reset_second_factors",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            # One's own address moves on the account page, proven with the current password
            # (issue 16.4): here it would move at once, on the strength of a session alone.
            fields = (*fields, "email")
        if request.user.is_superuser:
            return fields
        return (*fields, *PRIVILEGE_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nobody changes an account holding more than they do (issue 16.1).
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self._may_act_on(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # One's own account is deleted on the account page, confirmed with the password
        # (user_delete_by_admin refuses it, as the users API does).
        allowed = super().has_delete_permission(request, obj)
        own = obj is not None and obj.pk == request.user.pk
        return allowed and not own and (obj is None or self._may_act_on(request, obj))

    def _may_act_on(self, request: HttpRequest, obj: User) -> bool:
        return account_action_refusal(actor=request.user, target=obj) is None

    @admin.display(description="Factors")
    def second_factors(self, obj: User) -> str:
        """Names and dates only: never a secret, a code or a public key."""
        if obj.pk is None:
            return "—"
        factors = user_factors(user=obj)
        rows = [_app_row(factors.totp)] if factors.totp is not None else []
        rows += [_passkey_row(passkey) for passkey in factors.passkeys]
        rows.append((f"Recovery codes left: {factors.recovery_codes_left}",))
        items = format_html_join("", "<div>{}</div>", rows)
        if not obj.mfa_enabled:
            return items
        reset = reverse("admin:accounts_user_mfa_reset", args=[obj.pk])
        return format_html(
            '{}<p><a class="button" href="{}">Reset second factors…</a></p>', items, reset
        )

    @admin.display(boolean=True, description="Second factor", ordering="mfa_enabled")
    def mfa_on(self, obj: User) -> bool:
        return obj.mfa_enabled

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<path:object_id>/second-factors/reset/",
                self.admin_site.admin_view(self.mfa_reset_view),
                name="accounts_user_mfa_reset",
            )
        ]
        return own + super().get_urls()

    def mfa_reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Asks to confirm, then resets through the service (which checks the actor again)."""
        user = get_object_or_404(User, pk=object_id)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        if request.method == "POST":
            try:
                user_mfa_reset_by_admin(actor=request.user, user=user)
            except ApplicationError as error:
                self.message_user(request, f"{user}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{user}: second factors reset.", messages.SUCCESS)
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Reset second factors",
            "opts": self.opts,
            "original": user,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/accounts/user/mfa_reset_confirm.html", context)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        if str(id) == str(request.user.pk):
            # Django's form asks only for the new password: on one's own account a stolen
            # admin session would become the account. The account page asks for the current
            # one (ASVS 2.1.6, issue 16.4).
            return redirect("accounts:password_change")
        # Django builds the form without the request: the actor travels beside it.
        token = _acting.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _acting.reset(token)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete_by_admin(actor=request.user, user=obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        for user in users:  # all refused or none deleted
            account_action_check(actor=request.user, target=user)
        for user in users:
            services.user_delete_by_admin(actor=request.user, user=user)

    @admin.display(boolean=True, description="Verified")
    def email_verified(self, obj: User) -> bool:
        return obj.email_verified_at is not None

    def save_model(self, request: HttpRequest, obj: User, form: forms.Form, change: bool) -> None:
        if change:
            services.user_update_from_admin_form(
                actor=request.user,
                user=obj,
                changed=form.changed_data,
                ignore_domain_rules=form.cleaned_data.get("ignore_domain_rules", False),
            )

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> User:
        # The sign-up service creates the profile; the inlines edit it afterwards.
        data = form.cleaned_data
        return services.user_create(
            username=data["username"],
            email=data["email"],
            user_type=data.get("user_type") or UserType.CUSTOMER,
            password=data.get("password") or None,
            email_verified=data.get("email_verified", False),
            is_staff=data.get("is_staff", False),
            profile={field: data.get(field, "") for field in services.NEW_ACCOUNT_PROFILE_FIELDS},
            actor=request.user,
            ignore_domain_rules=data.get("ignore_domain_rules", False),
        )

    # Each action changes accounts: the change permission, never a look at the list alone
    # (Django offers an action without ``permissions`` to every viewer; issue 16.17).
    def _apply(
        self, request: HttpRequest, queryset: QuerySet[User], action: Any, done: str
    ) -> None:
        count = 0
        for user in queryset:
            try:
                account_action_check(actor=request.user, target=user)
                action(user)
            except ApplicationError as error:
                self.message_user(request, f"{user}: {error.message}", messages.ERROR)
            else:
                count += 1
        self.message_user(request, f"{done}: {count} user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate (and sign out everywhere)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(
            request,
            queryset,
            lambda u: services.user_deactivate(user=u, actor=request.user),
            "Deactivated",
        )

    @admin.action(description="Send a password-reset email", permissions=["change"])
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(
            request,
            queryset,
            lambda u: services.password_reset_request(login=u.email),
            "Password-reset email sent",
        )

    @admin.action(description="Mark email as verified", permissions=["change"])
    def mark_email_verified(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(
            request,
            queryset,
            lambda u: services.user_mark_email_verified(user=u, actor=request.user),
            "Marked verified",
        )

    @admin.action(description="Require a password change at next sign-in", permissions=["change"])
    def require_password_change(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(
            request,
            queryset,
            lambda u: services.user_require_password_change(user=u, actor=request.user),
            "Password change required",
        )

    @admin.action(
        description="Reset second factors (and sign out everywhere)", permissions=["change"]
    )
    def reset_second_factors(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(
            request,
            queryset,
            lambda u: user_mfa_reset_by_admin(actor=request.user, user=u),
            "Second factors reset",
        )


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _app_row(app: Any) -> tuple[str]:
    return (
        f"Authenticator app: added {_when(app.confirmed_at)}, "
        f"last used {_when(totp_last_used_at(app))}",
    )


def _passkey_row(passkey: Any) -> tuple[str]:
    kind = "synced" if passkey.backup_eligible else "device-bound"
    return (
        f"Passkey “{passkey.name}” ({kind}): added {_when(passkey.created_at)}, "
        f"last used {_when(passkey.last_used_at)}",
    )


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """A group hands its Django permissions to every member, like ``user_permissions`` does
    (a superuser's to set): nobody puts in a group, or changes a group carrying, a permission
    they do not hold themselves (issue 16.1)."""

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "permissions" and not request.user.is_superuser:
            user = request.user
            held = Q(user=user) | Q(group__user=user)
            kwargs["queryset"] = DjangoPermission.objects.filter(held).distinct()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._within(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._within(request, obj)

    def _within(self, request: HttpRequest, obj: Group | None) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        held = request.user.get_all_permissions()
        carried = obj.permissions.values_list("content_type__app_label", "codename")
        return all(f"{app_label}.{codename}" in held for app_label, codename in carried)


@admin.register(EmailDomainRule)
class EmailDomainRuleAdmin(CreatedByServiceAdmin):
    """Rules are written by accounts.services.domain_rules, like the domain-rules API."""

    list_display = ("domain", "action", "note", "updated_at")
    list_filter = ("action",)
    search_fields = ("domain",)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> EmailDomainRule:
        data = form.cleaned_data
        return services.email_domain_rule_create(
            domain=data["domain"], action=data["action"], note=data.get("note", "")
        )

    def save_model(
        self, request: HttpRequest, obj: EmailDomainRule, form: forms.Form, change: bool
    ) -> None:
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            services.email_domain_rule_update(rule=obj, data=data)

    def delete_model(self, request: HttpRequest, obj: EmailDomainRule) -> None:
        services.email_domain_rule_delete(rule=obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EmailDomainRule]) -> None:
        for rule in queryset:
            services.email_domain_rule_delete(rule=rule)


@admin.register(LoginEvent)
class LoginEventAdmin(ReadOnlyAdmin):
    """Security history is read-only: nobody edits or deletes it from the admin."""

    list_display = ("created_at", "identifier", "user", "outcome", "channel", "ip", "device_label")
    list_filter = ("outcome", "channel", ("created_at", admin.DateFieldListFilter))
    search_fields = ("identifier", "user__username", "user__email", "ip")
    list_select_related = ("user",)
    date_hierarchy = "created_at"


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "channel",
        "device_label",
        "ip",
        "created_at",
        "last_seen_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("channel", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("user__username", "user__email", "ip", "=id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Signing people out is a change, not a look: it needs sessions.revoke (issue 16.17)."""
        return request.user.has_perm("sessions.revoke")

    @admin.action(description="Revoke (sign out on every channel)", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[UserSession]) -> None:
        for session in queryset.filter(revoked_at__isnull=True).select_related("user"):
            reason = account_action_refusal(actor=request.user, target=session.user)
            if reason is not None:
                self.message_user(request, f"{session.user}: {reason}", messages.ERROR)
                continue
            services.session_revoke(session=session, reason="revoked_by_admin")
        self.message_user(request, "The selected sessions were revoked.", messages.SUCCESS)


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """axes' failed-attempt records; unlocking a pair forgets its failures."""

    actions = ["unlock"]

    # Deleting a record is unlocking it: the same service as the action.
    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        lockout_lift(attempt_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        lockout_lift(attempt_ids=list(queryset.values_list("pk", flat=True)))

    @admin.action(description="Unlock: forget these failed attempts", permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        count = lockout_lift(attempt_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Unlocked {count} username and IP pair(s).", messages.SUCCESS)
