"""Authentication backend answering ``user.has_perm("users.read")`` from roles.

It authenticates nobody: sign-in stays with accounts.backends. Django asks every backend and
grants if any says yes, so this one answers only for the authz permission codes a user holds
through live role assignments (Django's own ``app.codename`` permissions stay with
ModelBackend). PermissionsMixin already grants everything to active superusers.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import BaseBackend

from authz.selectors import user_effective_permissions, user_has_permission


class RoleBackend(BaseBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None:
            return set()  # no per-object permissions
        return set(user_effective_permissions(user=user_obj))

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return user_has_permission(user=user_obj, code=perm)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        prefix = f"{app_label}."
        return any(code.startswith(prefix) for code in self.get_all_permissions(user_obj))

    # BaseBackend's async variants would bypass the methods above; route them here.
    async def aget_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return await sync_to_async(self.get_all_permissions)(user_obj, obj)

    async def ahas_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return await sync_to_async(self.has_perm)(user_obj, perm, obj)

    async def ahas_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return await sync_to_async(self.has_module_perms)(user_obj, app_label)
