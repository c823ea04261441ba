"""The audit stream's vocabulary: its types, where an entry sits, what an entry holds, and the
filters a reader may apply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authz.models import AuditAction
from identity.event_types import AUDITED_ELSEWHERE, EVENT_TYPES

# AuthzAuditEvent.action -> the stream's dotted type (role.assigned / role.revoked as webhooks
# name them).
AUTHZ_TYPES: dict[str, str] = {
    AuditAction.PERMISSION_CREATE: "permission.created",
    AuditAction.PERMISSION_UPDATE: "permission.updated",
    AuditAction.PERMISSION_DELETE: "permission.deleted",
    AuditAction.ROLE_CREATE: "role.created",
    AuditAction.ROLE_UPDATE: "role.updated",
    AuditAction.ROLE_DELETE: "role.deleted",
    AuditAction.ROLE_ASSIGN: "role.assigned",
    AuditAction.ROLE_ASSIGNMENT_UPDATE: "role.assignment_updated",
    AuditAction.ROLE_UNASSIGN: "role.revoked",
}
SIGN_IN_SUCCEEDED, SIGN_IN_FAILED = "sign_in.succeeded", "sign_in.failed"
DELIVERY_ATTEMPTED = "delivery.attempted"
EVENT_TABLE_TYPES = frozenset(EVENT_TYPES) - AUDITED_ELSEWHERE
# Every type the stream can hold: what the ``type`` filter accepts.
AUDIT_TYPES: frozenset[str] = (
    EVENT_TABLE_TYPES
    | {SIGN_IN_SUCCEEDED, SIGN_IN_FAILED, DELIVERY_ATTEMPTED}
    | frozenset(AUTHZ_TYPES.values())
)


@dataclass(frozen=True, order=True)
class Position:
    """Where an entry sits in the stream; entries are ordered by it, newest (largest) first."""

    occurred_at: datetime
    rank: int
    key: Any  # the row's primary key: an int, or the Event's UUID


@dataclass(frozen=True)
class AuditEntry:
    id: str
    type: str
    occurred_at: datetime
    actor: str | None
    user: str | None
    sid: str | None
    client_id: str | None
    ip: str | None
    data: dict[str, Any]
    position: Position


@dataclass(frozen=True)
class AuditFilters:
    types: frozenset[str] | None = None  # None: every type
    user: uuid.UUID | None = None
    actor: uuid.UUID | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def audit_types_match(pattern: str) -> frozenset[str]:
    """The types a filter value names: one type, or every type under ``prefix.*``; empty when
    it names none."""
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return frozenset(t for t in AUDIT_TYPES if t.startswith(prefix))
    return frozenset({pattern}) & AUDIT_TYPES
