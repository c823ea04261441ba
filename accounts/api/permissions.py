"""A permission-code check for API views (stop-gap until authz provides the real check)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class HasPerm(BasePermission):
    """Requires ``code`` (``write`` instead for unsafe methods, when given).

    Used as an instance in ``permission_classes``: DRF calls each entry, and calling an
    instance returns it.
    """

    def __init__(self, code: str, *, write: str | None = None) -> None:
        self.read_code = code
        self.write_code = write or code

    def __call__(self) -> HasPerm:
        return self

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF answers 401 when no authenticator succeeded
        code = self.read_code if request.method in SAFE_METHODS else self.write_code
        if not user.has_perm(code):
            raise PermissionDenied(f"This requires the permission {code}.", "permission_denied")
        return True
