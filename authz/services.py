"""Every change to permissions, roles and assignments; each writes its audit row and makes the
change visible to every process (authz.cache) in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from authz import cache as authz_cache
from authz.errors import (
    ExpiryInPast,
    PermissionExists,
    RoleAlreadyAssigned,
    RoleCycle,
    RoleExists,
    RoleNotAssigned,
    UnknownPermission,
    UnknownRole,
)
from authz.models import (
    AuditAction,
    AuthzAuditEvent,
    Permission,
    Role,
    RoleAssignment,
    RoleInclusion,
)
from authz.selectors import (
    account_action_check,
    acts_unbounded,
    assignment_is_live,
    grant_check,
    role_grant_check,
    role_graph,
)
from identity.events import event_record

logger = logging.getLogger(__name__)

# Any constant: the advisory lock that serialises changes to role inclusions.
_GRAPH_LOCK_ID = 0x617574687A


# --- audit -------------------------------------------------------------------------------


def _audit(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuthzAuditEvent:
    real_actor = actor if actor is not None and actor.is_authenticated else None
    return AuthzAuditEvent.objects.create(
        actor=real_actor,
        actor_username=real_actor.get_username() if real_actor else "",
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
    )


def _role_event(type: str, *, assignment: RoleAssignment, actor: Any) -> None:
    """role.assigned / role.revoked: the role by name, until when, and who granted or took it."""
    expires_at = assignment.expires_at
    event_record(
        type,
        data={
            "role": assignment.role.name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        actor=actor if actor is not None and actor.is_authenticated else None,
        subject=assignment.user,
    )


def _permission_snapshot(permission: Permission) -> dict[str, Any]:
    return {"code": permission.code, "description": permission.description}


def _role_snapshot(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "requires_mfa": role.requires_mfa,
        "permissions": sorted(role.permissions.values_list("code", flat=True)),
        "included_roles": sorted(role.included_roles.values_list("name", flat=True)),
    }


def _assignment_snapshot(assignment: RoleAssignment) -> dict[str, Any]:
    granted_by = assignment.granted_by
    return {
        "user": str(assignment.user.public_id),
        "username": assignment.user.get_username(),
        "role": assignment.role.name,
        "expires_at": assignment.expires_at.isoformat() if assignment.expires_at else None,
        "granted_by": granted_by.get_username() if granted_by else None,
    }


# --- permissions -------------------------------------------------------------------------


def _save_permission(permission: Permission) -> None:
    permission.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            permission.save()
    except IntegrityError as error:
        raise PermissionExists() from error


@transaction.atomic
def permission_create(*, code: str, description: str = "", actor: Any = None) -> Permission:
    permission = Permission(code=(code or "").strip(), description=description)
    _save_permission(permission)
    _audit(
        actor=actor,
        action=AuditAction.PERMISSION_CREATE,
        obj=permission,
        before=None,
        after=_permission_snapshot(permission),
    )
    authz_cache.graph_changed()
    return permission


@transaction.atomic
def permission_update(*, permission: Permission, description: str, actor: Any = None) -> Permission:
    before = _permission_snapshot(permission)
    permission.description = description
    _save_permission(permission)
    _audit(
        actor=actor,
        action=AuditAction.PERMISSION_UPDATE,
        obj=permission,
        before=before,
        after=_permission_snapshot(permission),
    )
    authz_cache.graph_changed()
    return permission


@transaction.atomic
def permission_delete(*, permission: Permission, actor: Any = None) -> None:
    """Deletes the permission; roles that granted it stop granting it."""
    # Taking a permission away from its holders is acting above oneself unless one holds it.
    grant_check(actor=actor, codes={permission.code})
    before = _permission_snapshot(permission)
    before["roles"] = sorted(permission.roles.values_list("name", flat=True))
    _audit(
        actor=actor, action=AuditAction.PERMISSION_DELETE, obj=permission, before=before, after=None
    )
    granting = list(permission.roles.values_list("pk", flat=True))
    authz_cache.graph_changed(holders_of=granting)  # before the delete: who held it through them
    permission.delete()


# --- roles -------------------------------------------------------------------------------


def _graph_lock() -> None:
    """Serialises inclusion changes, so that two concurrent edits cannot close a cycle."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_GRAPH_LOCK_ID])


def _permissions_by_code(codes: Iterable[str]) -> list[Permission]:
    wanted = set(codes)
    found = list(Permission.objects.filter(code__in=wanted))
    missing = sorted(wanted - {p.code for p in found})
    if missing:
        raise UnknownPermission(f"No permission has the code {missing[0]}.")
    return found


def _roles_by_name(names: Iterable[str]) -> list[Role]:
    wanted = set(names)
    found = list(Role.objects.filter(name__in=wanted))
    missing = sorted(wanted - {r.name for r in found})
    if missing:
        raise UnknownRole(f"No role has the name {missing[0]}.")
    return found


def role_cycle_check(*, role: Role | None, included: Iterable[Role]) -> None:
    """Raises RoleCycle if ``role`` including ``included`` would make a role include itself."""
    if role is None or role.pk is None:
        return  # a new role is included by nothing yet
    edges: dict[int, set[int]] = {}
    for source, target in RoleInclusion.objects.exclude(role=role).values_list(
        "role_id", "included_id"
    ):
        edges.setdefault(source, set()).add(target)
    for candidate in included:
        if candidate.pk == role.pk:
            raise RoleCycle(f"The role {role.name} cannot include itself.")
        seen, stack = {candidate.pk}, [candidate.pk]
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt == role.pk:
                    raise RoleCycle(
                        f"{role.name} cannot include {candidate.name}: "
                        f"{candidate.name} already includes {role.name}."
                    )
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)


def _save_role(role: Role) -> None:
    role.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as error:
        raise RoleExists() from error


def _role_carries(
    *, role: Role | None, permissions: Iterable[str] | None, included_roles: Iterable[str] | None
) -> set[str]:
    """The codes ``role`` carries, before and after the given links are set (None keeps the
    current ones), included roles expanded."""
    graph = role_graph()
    carried = set(permissions or ())
    if role is not None and role.pk is not None:
        carried |= graph.effective(role.pk)
    included = _roles_by_name(included_roles) if included_roles is not None else []
    return carried.union(*(graph.effective(r.pk) for r in included))


def role_change_check(
    *,
    actor: Any,
    role: Role | None,
    permissions: Iterable[str] | None,
    included_roles: Iterable[str] | None,
) -> None:
    """Nobody makes or changes a role carrying a permission they do not hold (issue 16.1):
    otherwise roles.write alone would grant itself everything."""
    if acts_unbounded(actor):
        return
    if permissions is not None:
        _permissions_by_code(permissions)  # an unknown code is a 400 before any refusal
    carried = _role_carries(role=role, permissions=permissions, included_roles=included_roles)
    grant_check(actor=actor, codes=carried)


def _role_links_set(
    *, role: Role, permissions: Iterable[str] | None, included_roles: Iterable[str] | None
) -> None:
    if permissions is not None:
        role.permissions.set(_permissions_by_code(permissions))
    if included_roles is not None:
        included = _roles_by_name(included_roles)
        role_cycle_check(role=role, included=included)
        role.included_roles.set(included)


@transaction.atomic
def role_create(
    *,
    name: str,
    description: str = "",
    permissions: Iterable[str] = (),
    included_roles: Iterable[str] = (),
    requires_mfa: bool = False,
    actor: Any = None,
) -> Role:
    _graph_lock()
    permissions, included_roles = list(permissions), list(included_roles)
    role_change_check(
        actor=actor, role=None, permissions=permissions, included_roles=included_roles
    )
    role = Role(name=(name or "").strip(), description=description, requires_mfa=requires_mfa)
    _save_role(role)
    _role_links_set(role=role, permissions=permissions, included_roles=included_roles)
    _audit(
        actor=actor,
        action=AuditAction.ROLE_CREATE,
        obj=role,
        before=None,
        after=_role_snapshot(role),
    )
    authz_cache.graph_changed()
    return role


@transaction.atomic
def role_update(
    *,
    role: Role,
    name: str | None = None,
    description: str | None = None,
    permissions: Iterable[str] | None = None,
    included_roles: Iterable[str] | None = None,
    requires_mfa: bool | None = None,
    actor: Any = None,
) -> Role:
    """Changes what is given; ``permissions`` and ``included_roles`` replace the current sets.
    ``requires_mfa`` applies to the holders at once: the graph's new version carries it."""
    _graph_lock()
    permissions = list(permissions) if permissions is not None else None
    included_roles = list(included_roles) if included_roles is not None else None
    role_change_check(
        actor=actor, role=role, permissions=permissions, included_roles=included_roles
    )
    # From the row: an admin form has already set the new values on ``role``.
    before = _role_snapshot(Role.objects.get(pk=role.pk))
    if name is not None:
        role.name = name.strip()
    if description is not None:
        role.description = description
    if requires_mfa is not None:
        role.requires_mfa = requires_mfa
    _save_role(role)
    _role_links_set(role=role, permissions=permissions, included_roles=included_roles)
    _audit(
        actor=actor,
        action=AuditAction.ROLE_UPDATE,
        obj=role,
        before=before,
        after=_role_snapshot(role),
    )
    authz_cache.graph_changed(holders_of=[role.pk])
    return role


@transaction.atomic
def role_delete(*, role: Role, actor: Any = None) -> None:
    """Deletes the role, its inclusions and its assignments."""
    _graph_lock()
    role_grant_check(actor=actor, role_id=role.pk)
    before = _role_snapshot(role)
    before["assigned_to"] = sorted(
        str(public_id) for public_id in role.assignments.values_list("user__public_id", flat=True)
    )
    _audit(actor=actor, action=AuditAction.ROLE_DELETE, obj=role, before=before, after=None)
    authz_cache.graph_changed(holders_of=[role.pk])  # before the delete: its holders lose it
    role.delete()


# --- assignments -------------------------------------------------------------------------


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ExpiryInPast()


@transaction.atomic
def role_assign(
    *, user: Any, role: Role, granted_by: Any, expires_at: datetime | None = None
) -> RoleAssignment:
    """Gives ``role`` to ``user`` until ``expires_at`` (never when None). An expired
    assignment of the same role is renewed; a live one is refused."""
    _check_expiry(expires_at)
    account_action_check(actor=granted_by, target=user)
    role_grant_check(actor=granted_by, role_id=role.pk, until=expires_at)
    granter = granted_by if granted_by is not None and granted_by.is_authenticated else None
    existing = (
        RoleAssignment.objects.select_for_update(of=("self",)).filter(user=user, role=role).first()
    )
    if existing is not None and assignment_is_live(existing):
        raise RoleAlreadyAssigned()
    before = _assignment_snapshot(existing) if existing else None
    assignment = existing or RoleAssignment(user=user, role=role)
    assignment.granted_by, assignment.expires_at = granter, expires_at
    try:
        with transaction.atomic():
            assignment.save()
    except IntegrityError as error:  # a concurrent assignment of the same role won
        raise RoleAlreadyAssigned() from error
    _audit(
        actor=granter,
        action=AuditAction.ROLE_ASSIGN,
        obj=assignment,
        before=before,
        after=_assignment_snapshot(assignment),
    )
    _role_event("role.assigned", assignment=assignment, actor=granter)
    authz_cache.user_changed(user)
    return assignment


@transaction.atomic
def role_assignment_update(
    *, assignment: RoleAssignment, expires_at: datetime | None, actor: Any = None
) -> RoleAssignment:
    """Changes when an assignment expires."""
    _check_expiry(expires_at)
    account_action_check(actor=actor, target=assignment.user)
    role_grant_check(actor=actor, role_id=assignment.role_id, until=expires_at)
    before = _assignment_snapshot(assignment)
    assignment.expires_at = expires_at
    assignment.save(update_fields=["expires_at", "updated_at"])
    _audit(
        actor=actor,
        action=AuditAction.ROLE_ASSIGNMENT_UPDATE,
        obj=assignment,
        before=before,
        after=_assignment_snapshot(assignment),
    )
    authz_cache.user_changed(assignment.user)
    return assignment


@transaction.atomic
def role_unassign(*, user: Any, role: Role, actor: Any = None) -> None:
    """Takes ``role`` away from ``user``; takes effect on their next request everywhere."""
    account_action_check(actor=actor, target=user)
    assignment = (
        RoleAssignment.objects.select_for_update(of=("self",))
        .select_related("user", "role", "granted_by")
        .filter(user=user, role=role)
        .first()
    )
    if assignment is None:
        raise RoleNotAssigned()
    _audit(
        actor=actor,
        action=AuditAction.ROLE_UNASSIGN,
        obj=assignment,
        before=_assignment_snapshot(assignment),
        after=None,
    )
    _role_event("role.revoked", assignment=assignment, actor=actor)
    assignment.delete()
    authz_cache.user_changed(user)


def signup_roles_grant(*, user: Any) -> None:
    """Gives a newly signed-up user the roles named in AUTHZ_SIGNUP_ROLES."""
    for name in getattr(settings, "AUTHZ_SIGNUP_ROLES", []):
        role = Role.objects.filter(name=name).first()
        if role is None:
            logger.error("AUTHZ_SIGNUP_ROLES names a role that does not exist: %s", name)
            continue
        role_assign(user=user, role=role, granted_by=None)
