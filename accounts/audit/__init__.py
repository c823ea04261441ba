"""The audit stream: one newest-first view over the tables that already record what happened.

A view over the existing tables, not a move into one events table. ``LoginEvent`` stays the
record of sign-in attempts: the history pages, lockout counting and the retention purge read it,
and copying each attempt into ``identity.Event`` would double the sign-in path's writes (a
password-spraying attack's too). ``AuthzAuditEvent`` stays the record of authz changes (its admin
and its before/after snapshots). The worker's ``DeliveryAttempt`` rows are the record of
deliveries. ``identity.Event`` holds the rest; its rows of the types another table records
(``AUDITED_ELSEWHERE``) exist only to be delivered and are not repeated here.

Each source is read with a keyset condition (after the cursor) and ``LIMIT n + 1`` on its own
time index, and the sorted pieces are merged: one query per source, whatever the page size. The
total order is (time, source rank, row key), all descending, so a cursor is a position that rows
inserted later can neither repeat nor shift. It lives in accounts, the lowest app that may read
accounts, authz and identity alike.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from accounts.audit.entries import (
    AUDIT_TYPES,
    AUTHZ_TYPES,
    AuditEntry,
    AuditFilters,
    Position,
    audit_types_match,
)
from accounts.audit.sources import SOURCE_KEYS, SOURCES

__all__ = [
    "AUDIT_TYPES",
    "AUTHZ_TYPES",
    "SOURCE_KEYS",
    "AuditEntry",
    "AuditFilters",
    "AuditPage",
    "Position",
    "audit_batches",
    "audit_page",
    "audit_types_match",
]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next: Position | None  # where the next page starts after; None on the last page


def audit_page(*, filters: AuditFilters, after: Position | None, limit: int) -> AuditPage:
    """The ``limit`` entries after ``after`` (from the newest when None), newest first."""
    pieces = [source.read(filters, after, limit + 1) for source in SOURCES]
    merged = list(
        itertools.islice(
            heapq.merge(*pieces, key=lambda entry: entry.position, reverse=True), limit + 1
        )
    )
    if len(merged) <= limit:
        return AuditPage(entries=merged, next=None)
    return AuditPage(entries=merged[:limit], next=merged[limit - 1].position)


def audit_batches(
    *, filters: AuditFilters, after: Position | None = None, batch: int
) -> Iterator[list[AuditEntry]]:
    """Every entry the filters select after ``after``, newest first, ``batch`` at a time (an
    export): each batch is one page, so memory holds one batch whatever the stream's length."""
    while True:
        page = audit_page(filters=filters, after=after, limit=batch)
        if page.entries:
            yield page.entries
        if page.next is None:
            return
        after = page.next
