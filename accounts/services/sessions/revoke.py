"""Ending sign-ins on every channel: their rows, one ``session.revoked`` event per sign-in that
was live, their browser sessions, then the publisher."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import signin_memory
from accounts.errors import SessionNotFound
from accounts.models import User, UserSession
from accounts.services.sessions.changes import UNKNOWN_CHANNEL, sign_ins_changed_publish
from identity import metrics
from identity.events import EventDraft, events_record


@transaction.atomic(savepoint=False)
def session_revoke(*, session: UserSession, reason: str) -> None:
    """Ends one sign-in on any channel: its browser session, refreshes and access tokens. One
    transaction with what the listeners end with it (sso: its OAuth tokens, and the OAuth
    sign-ins a browser sign-in approved): all of it ends, or none."""
    ended = _live_rows_end(sids=[str(session.pk)], reason=reason)
    if session.session_key:
        _browser_sessions_delete([session.session_key])
    # Always publish, even when already revoked: the cache entry may have been evicted.
    sign_ins_changed_publish(ended={str(session.pk): session.channel}, reason=reason)
    if session.revoked_at is None:
        session.revoked_at = ended.get(session.pk, timezone.now())
        session.revoked_reason = reason[:40]
    session.refresh_jti = ""


@transaction.atomic
def sessions_revoke(*, sids: Collection[str], reason: str) -> int:
    """Ends these sign-ins, set-based whatever their number: one SELECT and one UPDATE of the
    rows, their browser sessions deleted, every sid published (a sid already revoked too: a
    holder may still have a copy). The number of sign-ins that were live."""
    ids = signin_memory.sid_uuids(sids)
    if not ids:
        return 0
    rows = list(
        UserSession.objects.filter(pk__in=ids).values_list(
            "id", "channel", "session_key", "revoked_at"
        )
    )
    # A sid without a row (purged, or never started) may still name tokens a listener holds.
    ended = {str(sid): UNKNOWN_CHANNEL for sid in ids}
    ended.update({str(pk): channel for pk, channel, _, _ in rows})
    live = [(key, revoked_at) for _, _, key, revoked_at in rows if revoked_at is None]
    sessions_mark_revoked(ended=ended, reason=reason, session_keys=[k for k, _ in live if k])
    return len(live)


def sessions_revoke_for_user(*, user: User, reason: str, except_sid: str | None = None) -> int:
    """Ends every live sign-in of ``user`` (but one), on every channel, at once."""
    live = UserSession.objects.filter(user=user, revoked_at__isnull=True)
    if except_sid:
        live = live.exclude(pk=except_sid)
    rows = list(live.values_list("id", "channel", "session_key"))
    if not rows:
        return 0
    sessions_mark_revoked(
        ended={str(pk): channel for pk, channel, _ in rows},
        reason=reason,
        session_keys=[key for _, _, key in rows if key],
    )
    return len(rows)


def user_sessions_revoke(*, user: User, reason: str, except_session_id: str | None = None) -> int:
    """sessions_revoke_for_user under the name the account services and the admin call."""
    return sessions_revoke_for_user(user=user, reason=reason, except_sid=except_session_id)


def user_session_revoke(*, user: User, session_id: str, reason: str) -> UserSession:
    """Ends one of ``user``'s own sign-ins; another user's id is simply not found."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise SessionNotFound()
    session_revoke(session=session, reason=reason)
    return session


@transaction.atomic(savepoint=False)
def sessions_mark_revoked(
    *, ended: Mapping[str, str], reason: str, session_keys: Iterable[str] = ()
) -> None:
    """The rows of ``ended`` (sid -> channel) still live are revoked, with their events, the
    given browser sessions deleted, and the change published, in one transaction with what the
    listeners end with them."""
    _live_rows_end(sids=list(ended), reason=reason)
    _browser_sessions_delete(list(session_keys))
    sign_ins_changed_publish(ended=ended, reason=reason)


@dataclass(frozen=True)
class _Subject:
    """The user an event is about, as events_record reads it: its public id only."""

    public_id: uuid.UUID


def _live_rows_end(*, sids: list[str], reason: str) -> dict[uuid.UUID, datetime]:
    """Revokes the live rows among ``sids`` and writes one ``session.revoked`` per row in the
    same transaction: the SELECT locks them, so of two concurrent revocations of one sign-in
    only the first sees it live and tells of it (the second finds revoked_at set). Set-based:
    a SELECT, an UPDATE and the events' INSERT whatever the number. Returns sid -> revoked_at
    of the rows it ended."""
    ids = signin_memory.sid_uuids(sids)
    if not ids:
        return {}
    now = timezone.now()
    # Joined without a savepoint: a failure here fails the caller's whole change anyway.
    with transaction.atomic(savepoint=False):
        live = list(
            UserSession.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, revoked_at__isnull=True)
            .values_list("id", "channel", "user__public_id")
        )
        if not live:
            return {}
        UserSession.objects.filter(pk__in=[pk for pk, _, _ in live]).update(
            revoked_at=now, revoked_reason=reason[:40], refresh_jti="", updated_at=now
        )
        events_record(
            EventDraft(
                type="session.revoked",
                subject=_Subject(public_id),
                sid=str(pk),
                data={"reason": reason[:40], "channel": channel},
            )
            for pk, channel, public_id in live
        )
    metrics.sessions_revoked_record(len(live))
    return {pk: now for pk, _, _ in live}


def _browser_sessions_delete(session_keys: list[str]) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in session_keys:
        store(session_key=key).delete()
