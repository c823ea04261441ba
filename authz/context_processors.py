"""Template context: the signed-in user's roles and effective permissions, read only if used."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from authz.selectors import user_effective_permissions, user_roles


def permissions(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "authz_permissions": SimpleLazyObject(
            lambda: sorted(user_effective_permissions(user=user))
        ),
        "authz_roles": SimpleLazyObject(lambda: user_roles(user=user)),
    }
