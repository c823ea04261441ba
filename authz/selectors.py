"""Permission checks and role reads. ``user_has_permission`` is the one check of the portal.

A user's effective permissions come from two cached entries: the role graph (each role's
included roles and permissions, expanded) and the user's live assignments with their expiry.
Cold, each costs one query; warm, a check is cache reads only. Expiry is applied when the
entry is read, so an assignment stops granting at its expiry without any invalidation.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import ValidationError
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateTimeField,
    Q,
    QuerySet,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from authz import cache as authz_cache
from authz.errors import PermissionNotFound, PrivilegeRefused, RoleNotFound
from authz.models import (
    AuthzAuditEvent,
    GraphStamp,
    Permission,
    Role,
    RoleAssignment,
    RoleInclusion,
    RolePermission,
)
from identity.cache import safe_get, safe_set

MEMO_ATTRIBUTE = "_authz_state"
MFA_MARK = "requires mfa"  # never a permission code (those have no spaces)
# Graphs by the stamp the database gave them (immutable): the last few, per process.
GRAPHS_REMEMBERED = 8
NO_STAMP = uuid.UUID(int=0)
_graphs: OrderedDict[tuple[uuid.UUID, int | None], RoleGraph] = OrderedDict()
_graphs_lock = threading.Lock()


@dataclass(frozen=True)
class RoleGraph:
    """Every role, expanded through its included roles; pickled whole into the cache."""

    names: dict[int, str]
    # role id -> ids of the role itself and of every role it includes, transitively
    expanded: dict[int, frozenset[int]]
    # role id -> codes granted directly by the role
    grants: dict[int, frozenset[str]]
    codes: frozenset[str]
    # ids of the roles whose holders must sign in with a second factor (Role.requires_mfa)
    mfa_roles: frozenset[int] = frozenset()

    def effective(self, role_id: int) -> frozenset[str]:
        ids = self.expanded.get(role_id, frozenset())
        return frozenset().union(*(self.grants.get(i, frozenset()) for i in ids))


@dataclass(frozen=True)
class _State:
    graph: RoleGraph
    # (role id, expiry as a POSIX timestamp or None)
    assignments: tuple[tuple[int, float | None], ...]

    def live_role_ids(self) -> list[int]:
        now = timezone.now().timestamp()
        return [rid for rid, exp in self.assignments if exp is None or exp > now]


def _timeout() -> int:
    return getattr(settings, "AUTHZ_CACHE_TIMEOUT", 3600)


def _graph_rows() -> QuerySet:
    """Roles, grants, inclusions and codes in one UNION ALL: (role, name, code, included)."""
    # Typed NULLs: Postgres resolves UNION column types pairwise and refuses text vs bigint.
    text = Cast(Value(None), output_field=CharField())
    number = Cast(Value(None), output_field=BigIntegerField())
    # A role's row carries MFA_MARK in the code column when it requires a second factor.
    mfa = Case(
        When(requires_mfa=True, then=Value(MFA_MARK)), default=text, output_field=CharField()
    )
    roles = Role.objects.order_by().values_list("id", "name", mfa, number)
    grants = RolePermission.objects.order_by().values_list(
        "role_id", text, "permission__code", number
    )
    includes = RoleInclusion.objects.order_by().values_list("role_id", text, text, "included_id")
    codes = Permission.objects.order_by().values_list(number, text, "code", number)
    return roles.union(grants, includes, codes, all=True)


def _expand(role_id: int, edges: dict[int, set[int]]) -> frozenset[int]:
    seen, stack = {role_id}, [role_id]
    while stack:  # iterative, and safe even if a cycle slipped into the table
        for included in edges.get(stack.pop(), ()):
            if included not in seen:
                seen.add(included)
                stack.append(included)
    return frozenset(seen)


def role_graph_load() -> RoleGraph:
    """The role graph from the database, in one query."""
    names: dict[int, str] = {}
    grants: dict[int, set[str]] = {}
    edges: dict[int, set[int]] = {}
    codes: set[str] = set()
    mfa_roles: set[int] = set()
    for role_id, name, code, included in _graph_rows():
        if name is not None:
            names[role_id] = name
            if code == MFA_MARK:
                mfa_roles.add(role_id)
        elif role_id is None:
            codes.add(code)
        elif code is not None:
            grants.setdefault(role_id, set()).add(code)
        else:
            edges.setdefault(role_id, set()).add(included)
    return RoleGraph(
        names=names,
        expanded={rid: _expand(rid, edges) for rid in names},
        grants={rid: frozenset(found) for rid, found in grants.items()},
        codes=frozenset(codes),
        mfa_roles=frozenset(mfa_roles),
    )


def _assignments_load(user_id: int) -> tuple[uuid.UUID, tuple[tuple[int, float | None], ...]]:
    """The user's live assignments and the graph stamp, in one query (UNION ALL): the stamp
    is read before the graph, so a graph cached under it is never older than it names."""
    role = Cast(Value(None), output_field=BigIntegerField())
    expiry = Cast(Value(None), output_field=DateTimeField())
    assignments = RoleAssignment.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()), user_id=user_id
    ).values_list("role_id", "expires_at", Cast(Value(None), output_field=UUIDField()))
    stamp_row = GraphStamp.objects.filter(pk=1).values_list(role, expiry, "stamp")
    stamp, found = None, []
    for rid, exp, row_stamp in assignments.order_by().union(stamp_row, all=True):
        if row_stamp is not None:
            stamp = row_stamp
        else:
            found.append((rid, exp.timestamp() if exp else None))
    # The row is made by a migration and renewed by every graph change; a flushed database
    # (tests) lacks it until the first change, and then every graph is "the unchanged one".
    return stamp or NO_STAMP, tuple(found)


def _graph_for(stamp: uuid.UUID, version: int | None = None) -> RoleGraph:
    """The graph the database named ``stamp``: from this process, the cache or the database.
    What a stamp names never changes, so each process keeps the few latest graphs (also by the
    cache's graph version, so that emptying the cache empties this too)."""
    memo_key = (stamp, version)
    graph = _graphs.get(memo_key)
    if graph is None:
        key = authz_cache.graph_key(stamp)
        graph = safe_get(key) or None
        if graph is None:
            graph = role_graph_load()
            safe_set(key, graph, _timeout())
        with _graphs_lock:
            _graphs[memo_key] = graph
            while len(_graphs) > GRAPHS_REMEMBERED:
                _graphs.popitem(last=False)
    return graph


def _state(user: Any) -> _State:
    """The user's graph and assignments: from the per-request memo if the versions still
    match, else from the cache, else from the database (one query, two with a new graph).

    Cached under the user's public_id and database version as well as the cache's versions:
    an entry restored from an older snapshot of the cache names a database version that is
    gone, and an account that reuses an old bigint id has a public_id of its own."""
    current = authz_cache.versions(
        [authz_cache.GRAPH_VERSION_KEY, authz_cache.user_version_key(user)]
    )
    if current is None:  # cache down: the database answers, and nothing is memoised
        return _State(graph=role_graph_load(), assignments=_assignments_load(user.pk)[1])
    stamp_versions = (getattr(user, "authz_version", 0), *current)
    memo = getattr(user, MEMO_ATTRIBUTE, None)
    if memo is not None and memo[0] == stamp_versions:
        return memo[1]
    key = authz_cache.user_key(user, tuple(current))
    found = safe_get(key) or None
    if found is None:
        found = _assignments_load(user.pk)
        safe_set(key, found, _timeout())
    stamp, assignments = found
    state = _State(graph=_graph_for(stamp, current[0]), assignments=assignments)
    setattr(user, MEMO_ATTRIBUTE, (stamp_versions, state))
    return state


def _may_hold(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def role_graph() -> RoleGraph:
    """The current role graph (one query for its stamp, then cached like a user's check)."""
    current = authz_cache.versions([authz_cache.GRAPH_VERSION_KEY])
    stamp = GraphStamp.objects.filter(pk=1).values_list("stamp", flat=True).first()
    if current is None:
        return role_graph_load()
    return _graph_for(stamp or NO_STAMP, current[0])


def user_effective_permissions(*, user: Any) -> frozenset[str]:
    """Codes the user holds: through live assignments and included roles; all for an active
    superuser; none for an inactive or anonymous user."""
    if not _may_hold(user):
        return frozenset()
    state = _state(user)
    if user.is_superuser:
        return state.graph.codes
    return frozenset().union(*(state.graph.effective(rid) for rid in state.live_role_ids()))


def user_has_permission(*, user: Any, code: str) -> bool:
    """THE permission check: the backend, DRF, decorators and templates all end up here."""
    if not _may_hold(user):
        return False
    if user.is_superuser:
        return True
    return code in user_effective_permissions(user=user)


def user_roles(*, user: Any) -> list[str]:
    """Names of the roles the user holds now, included roles expanded, sorted."""
    if not _may_hold(user):
        return []
    state = _state(user)
    ids = set().union(*(state.graph.expanded.get(rid, ()) for rid in state.live_role_ids()))
    return sorted(state.graph.names[rid] for rid in ids if rid in state.graph.names)


def user_requires_mfa(*, user: Any) -> bool:
    """Whether a role the user holds now (included roles expanded) requires a second factor."""
    if not _may_hold(user):
        return False
    state = _state(user)
    held = set().union(*(state.graph.expanded.get(rid, ()) for rid in state.live_role_ids()))
    return bool(held & state.graph.mfa_roles)


def permission_grantors(*, user: Any, code: str) -> list[str]:
    """Which of the user's live roles (directly assigned) grant ``code``, sorted."""
    if not _may_hold(user):
        return []
    state = _state(user)
    graph = state.graph
    return sorted(
        graph.names[rid]
        for rid in state.live_role_ids()
        if rid in graph.names and code in graph.effective(rid)
    )


def roles_granting(*, code: str) -> list[str]:
    """Every role that grants ``code`` (directly or through an included role), sorted."""
    graph = role_graph()
    return sorted(name for rid, name in graph.names.items() if code in graph.effective(rid))


def role_effective_permissions(*, role: Role) -> list[str]:
    return sorted(role_graph().effective(role.pk))


def permission_get(*, code: str) -> Permission:
    permission = Permission.objects.filter(code=code).first()
    if permission is None:
        raise PermissionNotFound()
    return permission


def permission_list() -> QuerySet[Permission]:
    return Permission.objects.order_by("code")


def role_get(*, name: str) -> Role:
    role = role_list().filter(name=name).first()
    if role is None:
        raise RoleNotFound()
    return role


def role_list() -> QuerySet[Role]:
    return Role.objects.order_by("name").prefetch_related("permissions", "included_roles")


def user_get(*, public_id: uuid.UUID | str) -> Any | None:
    """Any user, active or not, with this public id (None also for a malformed id). authz
    knows users only as AUTH_USER_MODEL, never by importing accounts (ARCHITECTURE.md)."""
    try:
        return get_user_model().objects.filter(public_id=public_id).first()
    except (ValueError, ValidationError):
        return None


def user_assignment_list(*, user: Any) -> QuerySet[RoleAssignment]:
    """Every assignment of the user, expired ones included (they show as such)."""
    return RoleAssignment.objects.filter(user=user).select_related("role", "granted_by")


def assignment_is_live(assignment: RoleAssignment, *, now: datetime | None = None) -> bool:
    return assignment.expires_at is None or assignment.expires_at > (now or timezone.now())


def audit_event_list() -> QuerySet[AuthzAuditEvent]:
    return AuthzAuditEvent.objects.select_related("actor")


# --- acting on others: nobody acts above what they hold ------------------------------------


def _assigned_permissions(user: Any) -> frozenset[str]:
    """Codes the account's assignments carry, whether or not it is active now: reactivating
    an account gives them back, so they count as held."""
    state = _state(user)
    if user.is_superuser:
        return state.graph.codes
    return frozenset().union(*(state.graph.effective(rid) for rid in state.live_role_ids()))


def _django_permissions(user: Any) -> frozenset[str]:
    """Django's own model permissions given to the account directly or through its groups."""
    rows = (
        DjangoPermission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return frozenset(f"{app_label}.{codename}" for app_label, codename in rows)


def account_action_refusal(*, actor: Any, target: Any) -> str | None:
    """Why ``actor`` may not act on ``target``'s account, or None when they may.

    The rule (issue 16.1): nobody acts on an account that holds more than they do. Only a
    superuser acts on a superuser, only staff on staff, and nobody on an account holding a
    permission (authz or Django) they lack. Acting on oneself is left to the self-service
    rules, and a None actor is the portal itself (sign-up, scheduled jobs).
    """
    if target.pk == getattr(actor, "pk", None) or acts_unbounded(actor):
        return None
    if not (actor.is_authenticated and actor.is_active):
        return "Only an active account can act on other accounts."
    if target.is_superuser:
        return "Only a superuser can act on a superuser account."
    if target.is_staff and not actor.is_staff:
        return "Only staff can act on a staff account."
    mine = user_effective_permissions(user=actor) | _django_permissions(actor)
    missing = (_assigned_permissions(target) | _django_permissions(target)) - mine
    if missing:
        return f"This account holds permissions you do not hold: {', '.join(sorted(missing))}."
    return None


def account_action_check(*, actor: Any, target: Any) -> None:
    """Raises PrivilegeRefused (403 permission_denied) when ``actor`` may not act on ``target``."""
    reason = account_action_refusal(actor=actor, target=target)
    if reason is not None:
        raise PrivilegeRefused(reason)


def acts_unbounded(actor: Any) -> bool:
    """The portal itself (no actor: sign-up, jobs) or an active superuser: nothing is above."""
    return actor is None or bool(actor.is_superuser and actor.is_active)


def _held_until(actor: Any) -> dict[str, float | None]:
    """Each code the actor holds now, with when that hold ends (POSIX time; None: never)."""
    if not _may_hold(actor):
        return {}
    state = _state(actor)
    now = timezone.now().timestamp()
    held: dict[str, float | None] = {}
    for role_id, expiry in state.assignments:
        if expiry is not None and expiry <= now:
            continue
        for code in state.graph.effective(role_id):
            if code not in held:
                held[code] = expiry
            elif held[code] is not None:
                held[code] = None if expiry is None else max(expiry, held[code] or expiry)
    return held


def grant_refusal(
    *, actor: Any, codes: frozenset[str] | set[str], until: datetime | None = None
) -> str | None:
    """Why ``actor`` may not hand out ``codes`` (in a role, an inclusion or an assignment)
    until ``until`` (None: for good), or None: nobody grants a permission they do not hold
    (issue 16.1), nor for longer than they hold it, or an elevation for an hour could copy
    itself into a role or an assignment that never expires."""
    if acts_unbounded(actor):
        return None
    held = _held_until(actor)
    missing = set(codes) - set(held)
    if missing:
        return f"You cannot grant permissions you do not hold: {', '.join(sorted(missing))}."
    end = None if until is None else until.timestamp()
    short = sorted(code for code in codes if _ends_before(held[code], end))
    if short:
        return f"You cannot grant permissions for longer than you hold them: {', '.join(short)}."
    return None


def _ends_before(hold_end: float | None, grant_end: float | None) -> bool:
    if hold_end is None:
        return False
    return grant_end is None or hold_end < grant_end


def role_grant_refusal(*, actor: Any, role_id: int, until: datetime | None = None) -> str | None:
    """grant_refusal for everything a role carries, included roles expanded."""
    if acts_unbounded(actor):
        return None  # and the role graph is not even read
    return grant_refusal(actor=actor, codes=role_graph().effective(role_id), until=until)


def grant_check(*, actor: Any, codes: frozenset[str] | set[str]) -> None:
    reason = grant_refusal(actor=actor, codes=codes)
    if reason is not None:
        raise PrivilegeRefused(reason)


def role_grant_check(*, actor: Any, role_id: int, until: datetime | None = None) -> None:
    reason = role_grant_refusal(actor=actor, role_id=role_id, until=until)
    if reason is not None:
        raise PrivilegeRefused(reason)
