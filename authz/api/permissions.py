"""DRF permission class on the one permission check (authz.selectors.user_has_permission)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from authz.selectors import user_has_permission

PERMISSION_DENIED = "permission_denied"


class _RequiresPermission(BasePermission):
    default: str | None = None
    by_key: dict[str, str] = {}
    code = PERMISSION_DENIED
    message = "You do not have permission to perform this action."

    def required(self, request: Request, view: Any) -> str | None:
        """The code this request needs: by viewset action, then HTTP method, then ``write``
        for unsafe methods, then the default."""
        method = "get" if request.method == "HEAD" else (request.method or "").lower()
        for key in (getattr(view, "action", None), method):
            if key and key in self.by_key:
                return self.by_key[key]
        if request.method not in SAFE_METHODS and "write" in self.by_key:
            return self.by_key["write"]
        return self.default

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF answers 401 when no authenticator succeeded
        required = self.required(request, view)
        if required is None:  # nothing configured for this action: closed
            return False
        if user_has_permission(user=user, code=required):
            return True
        self.message = f"This requires the permission {required}."
        return False


def HasPermission(default: str | None = None, /, **by_key: str) -> type[BasePermission]:
    """A permission class requiring ``default``, or per viewset action or HTTP method:
    ``HasPermission("roles.read", write="roles.write")``,
    ``HasPermission(list="users.read", destroy="users.write")``. Anonymous callers get 401,
    others without the permission 403 ``permission_denied`` naming it."""
    name = f"HasPermission({default or ''}{''.join(f',{k}={v}' for k, v in by_key.items())})"
    return type(name, (_RequiresPermission,), {"default": default, "by_key": dict(by_key)})
