"""Authorization tables: permissions, roles (with included roles), assignments and their audit."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from authz.namespace import is_django_permission_name, reserved_message

# A resource and an action, lowercase, dot-separated: users.read, billing.refund.
PERMISSION_CODE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z"
PERMISSION_CODE_MAX_LENGTH = 100
# Role names appear in URLs and tokens: lowercase letters, digits, - and _.
ROLE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*\Z"
ROLE_NAME_MAX_LENGTH = 64
RESERVED_CODE = "reserved_permission_code"

permission_code_validator = RegexValidator(
    PERMISSION_CODE_PATTERN,
    "Use lowercase letters, digits and _ in dot-separated parts, e.g. users.read.",
    code="invalid_permission_code",
)
role_name_validator = RegexValidator(
    ROLE_NAME_PATTERN,
    "Use lowercase letters, digits, - and _ only, starting with a letter or digit.",
    code="invalid_role_name",
)


class Permission(models.Model):
    code = models.CharField(
        max_length=PERMISSION_CODE_MAX_LENGTH,
        unique=True,
        validators=[permission_code_validator],
        help_text="A resource and an action, e.g. users.read.",
    )
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=PERMISSION_CODE_PATTERN.replace(r"\Z", "$")),
                name="authz_permission_code_format",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        super().clean()
        if self.code and self._in_django_namespace():
            raise ValidationError(
                {"code": ValidationError(reserved_message(self.code), code=RESERVED_CODE)}
            )

    def _in_django_namespace(self) -> bool:
        """Django's names, by form or stored in auth_permission (issue 16.3, authz.namespace)."""
        if is_django_permission_name(self.code):
            return True
        app_label, _, codename = self.code.partition(".")
        return DjangoPermission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists()


class Role(models.Model):
    name = models.CharField(
        max_length=ROLE_NAME_MAX_LENGTH, unique=True, validators=[role_name_validator]
    )
    description = models.CharField(max_length=255, blank=True)
    permissions = models.ManyToManyField(
        Permission, through="RolePermission", related_name="roles", blank=True
    )
    # Composite roles (as Keycloak's): holding this role also grants the included ones.
    included_roles = models.ManyToManyField(
        "self",
        through="RoleInclusion",
        through_fields=("role", "included"),
        symmetrical=False,
        related_name="including_roles",
        blank=True,
    )
    # Holders (directly or through a including role) must sign in with a second factor and
    # are sent to enrol one before anything else when they have none.
    requires_mfa = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Users holding this role must sign in with a second factor.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(name__regex=ROLE_NAME_PATTERN.replace(r"\Z", "$")),
                name="authz_role_name_format",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    # db_index=False here and below: the unique (role, ...) index serves lookups by role.
    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, related_name="role_permissions", db_index=False
    )
    permission = models.ForeignKey(
        Permission, on_delete=models.CASCADE, related_name="role_permissions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role", "permission"], name="authz_role_permission_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role_id} grants {self.permission_id}"


class RoleInclusion(models.Model):
    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, related_name="inclusions", db_index=False
    )
    included = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="inclusions_in")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role", "included"], name="authz_role_inclusion_unique"
            ),
            # Longer cycles are refused by the services under a lock; this one needs no lock.
            models.CheckConstraint(
                condition=~models.Q(role=models.F("included")), name="authz_role_not_self_included"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role_id} includes {self.included_id}"


class RoleAssignment(models.Model):
    # db_index=False: the unique (user, role) index serves lookups by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="role_assignments",
        db_index=False,
    )
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: never expires. An expired assignment grants nothing.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"], name="authz_assignment_user_role_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} for {self.user_id}"


class AuditAction(models.TextChoices):
    PERMISSION_CREATE = "permission.create", "Permission created"
    PERMISSION_UPDATE = "permission.update", "Permission changed"
    PERMISSION_DELETE = "permission.delete", "Permission deleted"
    ROLE_CREATE = "role.create", "Role created"
    ROLE_UPDATE = "role.update", "Role changed"
    ROLE_DELETE = "role.delete", "Role deleted"
    ROLE_ASSIGN = "role.assign", "Role assigned"
    ROLE_ASSIGNMENT_UPDATE = "role.assignment_update", "Role assignment changed"
    ROLE_UNASSIGN = "role.unassign", "Role revoked"


class AuthzAuditEvent(models.Model):
    """One change to permissions, roles or assignments; written by the service that made it."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as text so that the record survives the actor's deletion.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "audit event"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="authz_audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


class GraphStamp(models.Model):
    """One row: a random stamp renewed in the transaction of every change to roles, grants,
    inclusions or codes. The cached role graph is keyed by it, so a cache restored from an
    older snapshot (or kept over a restored database) can never serve a graph the database
    no longer holds; random rather than counted, so a recreated database never repeats one."""

    stamp = models.UUIDField(default=uuid.uuid4)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.stamp)
