"""Moves any existing authz code that could be read as a Django permission out of Django's
namespace (issue 16.3): ``accounts.change_user`` becomes ``quarantined.accounts.change_user``.

Renamed rather than refused: the backend already answers nothing for such codes, so the row
is harmless but misleading; failing the migration would block every deploy until someone
edited rows by hand (the admin cannot rename codes); deleting would silently drop the grants
a security review wants to see. The rename keeps the roles that carried it and writes an
audit row for each one, so the review can find who created it.
"""

from __future__ import annotations

import logging

from django.apps import apps as global_apps
from django.db import migrations

from authz.namespace import is_django_permission_name

logger = logging.getLogger("authz.migrations")
PREFIX = "quarantined."
MAX_LENGTH = 100


def quarantine(apps, schema_editor):
    Permission = apps.get_model("authz", "Permission")
    AuthzAuditEvent = apps.get_model("authz", "AuthzAuditEvent")
    # The installed apps are the code's, not the schema's: ask the real registry.
    for permission in Permission.objects.order_by("code"):
        if not is_django_permission_name(permission.code, registry=global_apps):
            continue
        old, new = permission.code, f"{PREFIX}{permission.code}"
        if len(new) > MAX_LENGTH or Permission.objects.filter(code=new).exists():
            raise RuntimeError(f"authz permission {old!r} collides with Django's; rename it.")
        permission.code = new
        permission.save(update_fields=["code", "updated_at"])
        AuthzAuditEvent.objects.create(
            action="permission.update",
            object_type="permission",
            object_id=str(permission.pk),
            object_repr=new[:200],
            before={"code": old, "description": permission.description},
            after={"code": new, "description": permission.description},
        )
        logger.warning("authz permission %s renamed %s: Django's namespace", old, new)


class Migration(migrations.Migration):
    dependencies = [("authz", "0004_graph_stamp")]

    operations = [migrations.RunPython(quarantine, migrations.RunPython.noop)]
