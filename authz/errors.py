"""Domain errors of authorization, each with a stable code the API and pages show."""

from __future__ import annotations

from identity.errors import ApplicationError


class PermissionExists(ApplicationError):
    code = "permission_exists"
    status = 409
    message = "A permission with this code already exists."
    field = "code"


class PermissionNotFound(ApplicationError):
    code = "permission_not_found"
    status = 404
    message = "No permission has this code."


class UnknownPermission(ApplicationError):
    code = "unknown_permission"
    status = 400
    message = "No permission has this code."
    field = "permissions"


class RoleExists(ApplicationError):
    code = "role_exists"
    status = 409
    message = "A role with this name already exists."
    field = "name"


class RoleNotFound(ApplicationError):
    code = "role_not_found"
    status = 404
    message = "No role has this name."


class UnknownRole(ApplicationError):
    code = "unknown_role"
    status = 400
    message = "No role has this name."
    field = "included_roles"


class RoleCycle(ApplicationError):
    code = "role_cycle"
    status = 400
    message = "A role cannot include itself, directly or through other roles."
    field = "included_roles"


class RoleAlreadyAssigned(ApplicationError):
    code = "role_already_assigned"
    status = 409
    message = "The user already holds this role."
    field = "role"


class RoleNotAssigned(ApplicationError):
    code = "role_not_assigned"
    status = 404
    message = "The user does not hold this role."


class ExpiryInPast(ApplicationError):
    code = "expiry_in_past"
    status = 400
    message = "The expiry must be in the future."
    field = "expires_at"


class PrivilegeRefused(ApplicationError):
    """Acting above one's own privileges: on an account holding more, or granting more."""

    code = "permission_denied"
    status = 403
    message = "You cannot act beyond the permissions you hold yourself."


class UserNotFound(ApplicationError):
    code = "user_not_found"
    status = 404
    message = "No user has this id."
