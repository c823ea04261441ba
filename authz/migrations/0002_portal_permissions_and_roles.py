"""The portal's own permissions and roles: admin (all), user-manager and auditor (read-only)."""

from __future__ import annotations

from django.db import migrations

PERMISSIONS = {
    "users.read": "See user accounts.",
    "users.write": "Create, change and deactivate user accounts.",
    "roles.read": "See roles, permissions and who holds them.",
    "roles.write": "Change roles and permissions, and assign or revoke roles.",
    "authz.check": "Check the permissions of other users.",
    "sessions.revoke": "Sign other users out.",
    "apps.manage": "Manage every OAuth application.",
}
ROLES = {
    "admin": ("Every portal permission.", list(PERMISSIONS)),
    "user-manager": (
        "Manages user accounts and their sign-ins.",
        ["users.read", "users.write", "sessions.revoke"],
    ),
    "auditor": ("Reads users and roles, changes nothing.", ["users.read", "roles.read"]),
}


def create(apps, schema_editor):
    Permission = apps.get_model("authz", "Permission")
    Role = apps.get_model("authz", "Role")
    RolePermission = apps.get_model("authz", "RolePermission")
    by_code = {}
    for code, description in PERMISSIONS.items():
        by_code[code], _ = Permission.objects.get_or_create(
            code=code, defaults={"description": description}
        )
    for name, (description, codes) in ROLES.items():
        role, _ = Role.objects.get_or_create(name=name, defaults={"description": description})
        for code in codes:
            RolePermission.objects.get_or_create(role=role, permission=by_code[code])


def remove(apps, schema_editor):
    apps.get_model("authz", "Role").objects.filter(name__in=list(ROLES)).delete()
    apps.get_model("authz", "Permission").objects.filter(code__in=list(PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [("authz", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
