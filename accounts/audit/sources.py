"""The four tables the audit stream reads, each as a source: its rank in the total order, the
types it holds, its time column, the query that applies the filters, and its row as an entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Subquery

from accounts.audit.entries import (
    AUTHZ_TYPES,
    DELIVERY_ATTEMPTED,
    EVENT_TABLE_TYPES,
    SIGN_IN_FAILED,
    SIGN_IN_SUCCEEDED,
    AuditEntry,
    AuditFilters,
    Position,
)
from accounts.models import LoginEvent, LoginOutcome, User
from authz.models import AuthzAuditEvent
from identity.event_types import AUDITED_ELSEWHERE
from identity.models import DeliveryAttempt, Event


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _user_pk(public_id: uuid.UUID) -> Subquery:
    # Inside the source's one query: no extra round trip to resolve the public id.
    return Subquery(User.objects.filter(public_id=public_id).values("pk")[:1])


def _after(rows: QuerySet, *, time: str, rank: int, after: Position | None) -> QuerySet:
    """Rows after ``after`` in the stream's order; written so the time index bounds the scan."""
    if after is None:
        return rows
    if rank < after.rank:
        return rows.filter(**{f"{time}__lte": after.occurred_at})
    if rank > after.rank:
        return rows.filter(**{f"{time}__lt": after.occurred_at})
    return rows.filter(**{f"{time}__lte": after.occurred_at}).filter(
        Q(**{f"{time}__lt": after.occurred_at}) | Q(pk__lt=after.key)
    )


@dataclass(frozen=True)
class _Source:
    rank: int
    types: frozenset[str]
    time: str
    query: Callable[[AuditFilters, frozenset[str]], QuerySet | None]
    entry: Callable[[Any, int], AuditEntry]

    def read(self, filters: AuditFilters, after: Position | None, limit: int) -> list[AuditEntry]:
        wanted = self.types if filters.types is None else self.types & filters.types
        if not wanted:
            return []
        rows = self.query(filters, wanted)
        if rows is None:
            return []
        if filters.since is not None:
            rows = rows.filter(**{f"{self.time}__gte": filters.since})
        if filters.until is not None:
            rows = rows.filter(**{f"{self.time}__lt": filters.until})
        rows = _after(rows, time=self.time, rank=self.rank, after=after)
        rows = rows.order_by(f"-{self.time}", "-pk")[:limit]
        return [self.entry(row, self.rank) for row in rows]


# -- identity.Event: everything no other table records -----------------------------------------


def _events(filters: AuditFilters, wanted: frozenset[str]) -> QuerySet:
    rows = Event.objects.all()
    if wanted == EVENT_TABLE_TYPES:
        rows = rows.exclude(type__in=sorted(AUDITED_ELSEWHERE))
    else:
        rows = rows.filter(type__in=sorted(wanted))
    if filters.user is not None:
        rows = rows.filter(subject_public_id=filters.user)
    if filters.actor is not None:
        rows = rows.filter(actor_public_id=filters.actor)
    return rows


def _event_entry(row: Event, rank: int) -> AuditEntry:
    return AuditEntry(
        id=str(row.id),
        type=row.type,
        occurred_at=row.occurred_at,
        actor=_str(row.actor_public_id),
        user=_str(row.subject_public_id),
        sid=_str(row.sid),
        client_id=_str(row.client_id),
        ip=None,
        data=row.data,
        position=Position(row.occurred_at, rank, row.id),
    )


# -- accounts.LoginEvent: sign-ins and failures ------------------------------------------------


def _sign_ins(filters: AuditFilters, wanted: frozenset[str]) -> QuerySet:
    rows = LoginEvent.objects.all()
    if wanted == {SIGN_IN_SUCCEEDED}:
        rows = rows.filter(outcome=LoginOutcome.SUCCESS)
    elif wanted == {SIGN_IN_FAILED}:
        rows = rows.exclude(outcome=LoginOutcome.SUCCESS)
    if filters.user is not None:
        rows = rows.filter(user_id=_user_pk(filters.user))
    if filters.actor is not None:  # who signed in acted; a failed attempt has no known actor
        rows = rows.filter(user_id=_user_pk(filters.actor), outcome=LoginOutcome.SUCCESS)
    return rows.values(
        "pk", "created_at", "user__public_id", "identifier", "outcome", "reason", "channel",
        "ip", "user_agent", "device_label", "amr",
    )  # fmt: skip


def _sign_in_entry(row: dict[str, Any], rank: int) -> AuditEntry:
    succeeded = row["outcome"] == LoginOutcome.SUCCESS
    user = _str(row["user__public_id"])
    return AuditEntry(
        id=f"login-{row['pk']}",
        type=SIGN_IN_SUCCEEDED if succeeded else SIGN_IN_FAILED,
        occurred_at=row["created_at"],
        actor=user if succeeded else None,
        user=user,
        sid=None,
        client_id=None,
        ip=row["ip"],
        data={
            name: row[name]
            for name in ("outcome", "reason", "channel", "identifier", "user_agent", "amr")
        }
        | {"device": row["device_label"]},
        position=Position(row["created_at"], rank, row["pk"]),
    )


# -- authz.AuthzAuditEvent: roles, permissions, assignments --------------------------------


def _authz_changes(filters: AuditFilters, wanted: frozenset[str]) -> QuerySet:
    rows = AuthzAuditEvent.objects.filter(
        action__in=sorted(action for action, name in AUTHZ_TYPES.items() if name in wanted)
    )
    if filters.user is not None:  # an assignment's snapshots name its user
        public_id = str(filters.user)
        rows = rows.filter(object_type="roleassignment").filter(
            Q(after__user=public_id) | Q(before__user=public_id)
        )
    if filters.actor is not None:
        rows = rows.filter(actor_id=_user_pk(filters.actor))
    return rows.values(
        "pk", "created_at", "action", "actor__public_id", "actor_username", "object_type",
        "object_id", "object_repr", "before", "after",
    )  # fmt: skip


def _authz_entry(row: dict[str, Any], rank: int) -> AuditEntry:
    snapshot = row["after"] or row["before"] or {}
    subject = snapshot.get("user") if row["object_type"] == "roleassignment" else None
    return AuditEntry(
        id=f"authz-{row['pk']}",
        type=AUTHZ_TYPES.get(row["action"], row["action"]),
        occurred_at=row["created_at"],
        actor=_str(row["actor__public_id"]),
        user=_str(subject),
        sid=None,
        client_id=None,
        ip=None,
        data={
            name: row[name]
            for name in ("actor_username", "object_type", "object_id", "object_repr")
        }
        | {"before": row["before"], "after": row["after"]},
        position=Position(row["created_at"], rank, row["pk"]),
    )


# -- identity.DeliveryAttempt: each try of each delivery ---------------------------------------


def _delivery_tries(filters: AuditFilters, wanted: frozenset[str]) -> QuerySet | None:
    if filters.actor is not None:
        return None  # the worker delivers: no user is the actor of a try
    rows = DeliveryAttempt.objects.all()
    if filters.user is not None:
        rows = rows.filter(delivery__event__subject_public_id=filters.user)
    # Never the URL: a receiver's URL may carry its own credentials.
    return rows.values(
        "pk", "started_at", "finished_at", "number", "status_code", "error", "delivery__kind",
        "delivery__target", "delivery__event_id", "delivery__event__type",
        "delivery__event__subject_public_id", "delivery__event__sid",
        "delivery__event__client_id",
    )  # fmt: skip


def _delivery_entry(row: dict[str, Any], rank: int) -> AuditEntry:
    return AuditEntry(
        id=f"delivery-attempt-{row['pk']}",
        type=DELIVERY_ATTEMPTED,
        occurred_at=row["started_at"],
        actor=None,
        user=_str(row["delivery__event__subject_public_id"]),
        sid=_str(row["delivery__event__sid"]),
        client_id=_str(row["delivery__event__client_id"]),
        ip=None,
        data={
            "kind": row["delivery__kind"],
            "target": row["delivery__target"],
            "number": row["number"],
            "status_code": row["status_code"],
            "error": row["error"],
            "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
            "event_id": str(row["delivery__event_id"]),
            "event_type": row["delivery__event__type"],
        },
        position=Position(row["started_at"], rank, row["pk"]),
    )


SOURCES: tuple[_Source, ...] = (
    _Source(3, EVENT_TABLE_TYPES, "occurred_at", _events, _event_entry),
    _Source(2, frozenset({SIGN_IN_SUCCEEDED, SIGN_IN_FAILED}), "created_at", _sign_ins,
            _sign_in_entry),
    _Source(1, frozenset(AUTHZ_TYPES.values()), "created_at", _authz_changes, _authz_entry),
    _Source(0, frozenset({DELIVERY_ATTEMPTED}), "started_at", _delivery_tries, _delivery_entry),
)  # fmt: skip
SOURCE_KEYS: dict[int, type] = {3: uuid.UUID, 2: int, 1: int, 0: int}
