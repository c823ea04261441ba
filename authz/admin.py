"""Django admin for authorization: permissions, roles, the assignments inline (accounts' user
page includes it), and the read-only audit. Every save goes through authz.services, so the
audit row is always written."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from authz import selectors, services
from authz.errors import ExpiryInPast
from authz.models import AuthzAuditEvent, Permission, Role, RoleAssignment
from identity.admin import CreatedByServiceAdmin, ReadOnlyAdmin
from identity.errors import ApplicationError

READ, WRITE = "roles.read", "roles.write"


class _GuardedByRoles:
    """Staff holding roles.read may look, roles.write may change, besides Django's own
    model permissions (kept for superusers and staff configured the Django way)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(READ) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.has_perm(WRITE) or super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(WRITE) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(WRITE) or super().has_delete_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(READ) or super().has_module_permission(request)


def _as_validation_error(error: ApplicationError) -> ValidationError:
    return ValidationError(error.message, code=error.code)


@admin.register(Permission)
class PermissionAdmin(_GuardedByRoles, CreatedByServiceAdmin):
    list_display = ("code", "description", "updated_at")
    search_fields = ("code", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting takes the permission from its holders: only one who holds it (issue 16.1).
        allowed = super().has_delete_permission(request, obj)
        codes = {obj.code} if obj is not None else set()
        return allowed and selectors.grant_refusal(actor=request.user, codes=codes) is None

    def service_create(self, request: HttpRequest, form: Any) -> Permission:
        data = form.cleaned_data
        return services.permission_create(
            code=data["code"], description=data["description"], actor=request.user
        )

    def save_model(self, request: HttpRequest, obj: Permission, form: Any, change: bool) -> None:
        if change:
            services.permission_update(
                permission=obj, description=form.cleaned_data["description"], actor=request.user
            )

    def delete_model(self, request: HttpRequest, obj: Permission) -> None:
        services.permission_delete(permission=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for permission in queryset:
            services.permission_delete(permission=permission, actor=request.user)


class RoleForm(forms.ModelForm):
    grant_permissions = forms.ModelMultipleChoiceField(
        Permission.objects.order_by("code"),
        required=False,
        label="Permissions",
        widget=FilteredSelectMultiple("permissions", is_stacked=False),
    )
    include_roles = forms.ModelMultipleChoiceField(
        Role.objects.order_by("name"),
        required=False,
        label="Included roles",
        help_text="Holding this role also grants the included roles.",
        widget=FilteredSelectMultiple("roles", is_stacked=False),
    )

    actor: Any = None  # set per request by RoleAdmin.get_form

    class Meta:
        model = Role
        fields = ("name", "description", "requires_mfa")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["grant_permissions"].initial = self.instance.permissions.all()
            self.fields["include_roles"].initial = self.instance.included_roles.all()
            self.fields["include_roles"].queryset = Role.objects.exclude(pk=self.instance.pk)

    def clean_include_roles(self) -> Any:
        included = self.cleaned_data["include_roles"]
        try:
            services.role_cycle_check(role=self.instance, included=included)
        except ApplicationError as error:
            raise _as_validation_error(error) from error
        return included

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "grant_permissions" in data and "include_roles" in data:
            try:
                services.role_change_check(
                    actor=self.actor,
                    role=self.instance if self.instance.pk else None,
                    permissions=[p.code for p in data["grant_permissions"]],
                    included_roles=[r.name for r in data["include_roles"]],
                )
            except ApplicationError as error:
                raise _as_validation_error(error) from error
        return data


@admin.register(Role)
class RoleAdmin(_GuardedByRoles, CreatedByServiceAdmin):
    form = RoleForm
    list_display = ("name", "description", "requires_mfa", "updated_at")
    list_filter = ("requires_mfa",)
    search_fields = ("name", "description")
    fields = (
        "name",
        "description",
        "requires_mfa",
        "grant_permissions",
        "include_roles",
        "effective",
    )
    readonly_fields = ("effective",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A role carrying more than the actor holds is shown, not changed (issue 16.1).
        return super().has_change_permission(request, obj) and self._within(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._within(request, obj)

    def _within(self, request: HttpRequest, obj: Role | None) -> bool:
        if obj is None or obj.pk is None:
            return True
        return selectors.role_grant_refusal(actor=request.user, role_id=obj.pk) is None

    @admin.display(description="Effective permissions")
    def effective(self, obj: Role) -> str:
        if obj.pk is None:
            return "—"
        return ", ".join(selectors.role_effective_permissions(role=obj)) or "—"

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def service_create(self, request: HttpRequest, form: Any) -> Role:
        return services.role_create(actor=request.user, **self._fields(form))

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        if change:
            services.role_update(role=obj, actor=request.user, **self._fields(form))

    def _fields(self, form: Any) -> dict[str, Any]:
        """The service sets the permissions and inclusions too (no save_m2m after it)."""
        data = form.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "requires_mfa": data["requires_mfa"],
            "permissions": [p.code for p in data["grant_permissions"]],
            "included_roles": [r.name for r in data["include_roles"]],
        }

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        services.role_delete(role=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for role in queryset:
            services.role_delete(role=role, actor=request.user)


class RoleAssignmentFormSet(forms.BaseInlineFormSet):
    """Saves through role_assign / role_assignment_update / role_unassign."""

    actor: Any = None

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> RoleAssignment:
        data = form.cleaned_data
        return services.role_assign(
            user=self.instance,
            role=data["role"],
            granted_by=self.actor,
            expires_at=data.get("expires_at"),
        )

    def save_existing(
        self, form: forms.ModelForm, obj: RoleAssignment, commit: bool = True
    ) -> RoleAssignment:
        original = RoleAssignment.objects.select_related("role").get(pk=obj.pk)
        if original.role_id != obj.role_id:
            services.role_unassign(user=self.instance, role=original.role, actor=self.actor)
            return self.save_new(form, commit)
        return services.role_assignment_update(
            assignment=obj, expires_at=form.cleaned_data.get("expires_at"), actor=self.actor
        )

    def delete_existing(self, obj: RoleAssignment, commit: bool = True) -> None:
        services.role_unassign(user=self.instance, role=obj.role, actor=self.actor)

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            expires_at = getattr(form, "cleaned_data", {}).get("expires_at")
            changed = form.has_changed() and not self._deleting(form)
            if changed and expires_at is not None and expires_at <= timezone.now():
                form.add_error("expires_at", ExpiryInPast.message)
            if form.has_changed() or self._deleting(form):
                self._check_grant(form)

    def _check_grant(self, form: forms.ModelForm) -> None:
        """The services refuse what is above the actor; say so on the form, not as a 500."""
        role = getattr(form, "cleaned_data", {}).get("role")
        reason = selectors.account_action_refusal(actor=self.actor, target=self.instance)
        if reason is None and role is not None and not self._deleting(form):
            until = form.cleaned_data.get("expires_at")
            reason = selectors.role_grant_refusal(actor=self.actor, role_id=role.pk, until=until)
        if reason is not None:
            form.add_error(None, reason)

    def _deleting(self, form: forms.ModelForm) -> bool:
        return self.can_delete and self._should_delete_form(form)


class RoleAssignmentInline(_GuardedByRoles, admin.TabularInline):
    """A user's roles, for the user model's admin page (accounts.admin includes it)."""

    model = RoleAssignment
    fk_name = "user"
    formset = RoleAssignmentFormSet
    fields = ("role", "expires_at", "granted_by", "created_at", "active")
    readonly_fields = ("granted_by", "created_at", "active")
    extra = 0
    verbose_name = "role"
    verbose_name_plural = "Roles"

    @admin.display(boolean=True, description="Active")
    def active(self, obj: RoleAssignment) -> bool:
        return obj.pk is not None and selectors.assignment_is_live(obj)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


@admin.register(AuthzAuditEvent)
class AuthzAuditEventAdmin(ReadOnlyAdmin):
    """The audit is read-only: nobody edits or deletes it from the admin."""

    list_display = ("created_at", "action", "object_repr", "actor_username")
    list_filter = ("action", "object_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("object_repr", "object_id", "actor_username")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before",
        "after",
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(READ) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(READ) or super().has_module_permission(request)
