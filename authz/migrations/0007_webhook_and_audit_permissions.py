"""Permissions for the events reaching other systems: managing webhook endpoints and reading the
audit stream. The admin role gets both, the auditor role reads the audit stream."""

from __future__ import annotations

import uuid

from django.db import migrations

PERMISSIONS = {
    "webhooks.write": "Register, change and remove webhook endpoints.",
    "audit.read": "Read the audit stream of everything that happened.",
}
GRANTS = {"admin": ["webhooks.write", "audit.read"], "auditor": ["audit.read"]}


def create(apps, schema_editor):
    Permission = apps.get_model("authz", "Permission")
    Role = apps.get_model("authz", "Role")
    RolePermission = apps.get_model("authz", "RolePermission")
    by_code = {}
    for code, description in PERMISSIONS.items():
        by_code[code], _ = Permission.objects.get_or_create(
            code=code, defaults={"description": description}
        )
    for name, codes in GRANTS.items():
        role = Role.objects.filter(name=name).first()
        if role is None:
            continue
        for code in codes:
            RolePermission.objects.get_or_create(role=role, permission=by_code[code])
    # Running processes cache the role graph under this stamp: a new one makes them reread it.
    apps.get_model("authz", "GraphStamp").objects.filter(pk=1).update(stamp=uuid.uuid4())


def remove(apps, schema_editor):
    apps.get_model("authz", "Permission").objects.filter(code__in=list(PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [("authz", "0006_role_requires_mfa")]

    operations = [migrations.RunPython(create, remove)]
