"""Input and output shapes of the authorization API."""

from __future__ import annotations

from rest_framework import serializers

from authz.models import PERMISSION_CODE_MAX_LENGTH, ROLE_NAME_MAX_LENGTH, Permission, Role
from authz.selectors import RoleGraph, assignment_is_live, role_graph
from identity.api import serializers as strict

# --- permissions -------------------------------------------------------------------------


class PermissionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Permission
        fields = ("code", "description", "created_at", "updated_at")


class PermissionCreateInputSerializer(strict.InputSerializer):
    code = strict.CharField(max_length=PERMISSION_CODE_MAX_LENGTH, help_text="e.g. users.read")
    description = strict.CharField(max_length=255, required=False, allow_blank=True, default="")


class PermissionUpdateInputSerializer(strict.InputSerializer):
    code = strict.CharField(read_only=True, help_text="Fixed; sent back as read, it is ignored.")
    description = strict.CharField(max_length=255, allow_blank=True)


# --- roles -------------------------------------------------------------------------------
MFA_HELP = (
    "Holders of the role, also through a role that includes it, must sign in with a second factor."
)


def _codes(**kwargs: object) -> serializers.ListField:
    return serializers.ListField(
        child=strict.CharField(max_length=PERMISSION_CODE_MAX_LENGTH),
        max_length=500,
        help_text="Permission codes the role grants directly.",
        **kwargs,
    )


def _names(**kwargs: object) -> serializers.ListField:
    return serializers.ListField(
        child=strict.CharField(max_length=ROLE_NAME_MAX_LENGTH),
        max_length=200,
        help_text="Names of roles this role includes (their permissions are granted too).",
        **kwargs,
    )


class RoleOutputSerializer(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField()
    included_roles = serializers.SerializerMethodField()
    effective_permissions = serializers.SerializerMethodField()

    class Meta:
        model = Role
        fields = (
            "name",
            "description",
            "requires_mfa",
            "permissions",
            "included_roles",
            "effective_permissions",
            "created_at",
            "updated_at",
        )

    def get_permissions(self, role: Role) -> list[str]:
        return sorted(p.code for p in role.permissions.all())

    def get_included_roles(self, role: Role) -> list[str]:
        return sorted(r.name for r in role.included_roles.all())

    def get_effective_permissions(self, role: Role) -> list[str]:
        """Through included roles, transitively."""
        if "graph" not in self.context:
            self.context["graph"] = role_graph()
        graph: RoleGraph = self.context["graph"]
        return sorted(graph.effective(role.pk))


class RoleCreateInputSerializer(strict.InputSerializer):
    name = strict.CharField(max_length=ROLE_NAME_MAX_LENGTH)
    description = strict.CharField(max_length=255, required=False, allow_blank=True, default="")
    permissions = _codes(required=False, default=list)
    included_roles = _names(required=False, default=list)
    requires_mfa = strict.BooleanField(required=False, default=False, help_text=MFA_HELP)


class RoleUpdateInputSerializer(strict.InputSerializer):
    name = strict.CharField(max_length=ROLE_NAME_MAX_LENGTH, required=False)
    description = strict.CharField(max_length=255, required=False, allow_blank=True)
    permissions = _codes(required=False)
    included_roles = _names(required=False)
    requires_mfa = strict.BooleanField(required=False, help_text=MFA_HELP)
    effective_permissions = serializers.ListField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# --- assignments, checks -----------------------------------------------------------------


class AssignmentOutputSerializer(strict.OutputSerializer):
    role = serializers.CharField(source="role.name")
    granted_by = serializers.UUIDField(source="granted_by.public_id", allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField(help_text="False once the assignment expired.")

    def get_active(self, assignment: object) -> bool:
        return assignment_is_live(assignment)  # type: ignore[arg-type]


class AssignmentInputSerializer(strict.InputSerializer):
    role = strict.CharField(max_length=ROLE_NAME_MAX_LENGTH)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Omit or null: never expires."
    )


class MyPermissionsOutputSerializer(strict.OutputSerializer):
    roles = serializers.ListField(child=serializers.CharField(), help_text="Included expanded.")
    permissions = serializers.ListField(child=serializers.CharField())


class CheckInputSerializer(strict.InputSerializer):
    permission = strict.CharField(max_length=PERMISSION_CODE_MAX_LENGTH)
    user = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="Omit to check yourself."
    )


class CheckOutputSerializer(strict.OutputSerializer):
    allowed = serializers.BooleanField()
    permission = serializers.CharField()
    user = serializers.UUIDField()
    granted_by = serializers.ListField(
        child=serializers.CharField(), help_text="The user's roles that grant the permission."
    )
    superuser = serializers.BooleanField()
