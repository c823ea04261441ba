"""Authentication backend answering ``user.has_perm("users.read")`` from roles.

It authenticates nobody: sign-in stays with accounts.backends. Django asks every backend and
grants if any says yes, so this one answers only for the authz permission codes a user holds
through live role assignments, and never for a name of Django's own permissions (those stay
with ModelBackend), even should such a code have slipped into authz: otherwise a role could
open the Django admin (issue 16.3). PermissionsMixin already grants everything to active
superusers.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib.auth.backends import BaseBackend

from authz.namespace import is_django_permission_name
from authz.selectors import user_effective_permissions, user_has_permission


def _app_labels() -> set[str]:
    return {config.label for config in apps.get_app_configs()}


class RoleBackend(BaseBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None:
            return set()  # no per-object permissions
        codes = user_effective_permissions(user=user_obj)
        return {code for code in codes if not is_django_permission_name(code)}

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if obj is not None or is_django_permission_name(perm):
            return False
        return user_has_permission(user=user_obj, code=perm)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        """``{% if perms.billing %}`` for authz resources; never an installed app's module,
        which would list it in the Django admin."""
        if app_label in _app_labels():
            return False
        prefix = f"{app_label}."
        return any(code.startswith(prefix) for code in self.get_all_permissions(user_obj))

    # BaseBackend's async variants would bypass the methods above; route them here.
    async def aget_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return await sync_to_async(self.get_all_permissions)(user_obj, obj)

    async def ahas_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return await sync_to_async(self.has_perm)(user_obj, perm, obj)

    async def ahas_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return await sync_to_async(self.has_module_perms)(user_obj, app_label)
