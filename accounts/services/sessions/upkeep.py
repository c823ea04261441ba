"""A live sign-in's upkeep: last-seen, refresh-token rotation, and purging old rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.services.mfa.amr import amr_join, amr_methods
from identity.cache import safe_add
from identity.postgres.statements import fast_path, update_statement


def session_touch(*, session_id: str) -> bool:
    """Records activity on a sign-in at most once per SESSION_TOUCH_SECONDS (one cache add)."""
    added = safe_add(f"session-touched:{session_id}", 1, timeout=settings.SESSION_TOUCH_SECONDS)
    if not added:  # touched recently, or the cache is down: last-seen can wait
        return False
    UserSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
        last_seen_at=timezone.now()
    )
    return True


def session_refresh_rotate(
    *, session: UserSession, presented_jti: str, new_jti: str, lifetime: timedelta
) -> bool:
    """Makes ``new_jti`` the sign-in's current refresh token if ``presented_jti`` still is and
    the sign-in is live; False when another refresh won or the sign-in ended.

    One compare-and-swap UPDATE on the current jti: of two concurrent refreshes only one can
    win (OAuth 2.0 Security BCP, RFC 9700 §4.14.2: refresh token rotation)."""
    now = timezone.now()
    rotated = session_refresh_jti_swap(
        session_id=session.pk,
        jti=presented_jti,
        new_jti=new_jti,
        now=now,
        expires_at=now + lifetime,
    )
    if rotated:
        session.refresh_jti, session.last_seen_at = new_jti, now
        session.expires_at = now + lifetime
    return bool(rotated)


def session_refresh_jti_swap(
    *, session_id: object, jti: str, new_jti: str, now: datetime, expires_at: datetime
) -> bool:
    """The rotation's UPDATE: a statement built once per process on Postgres (the ORM compiled
    it on every refresh), the same UPDATE through the ORM elsewhere; True when it swapped."""
    alias = router.db_for_write(UserSession)
    if not fast_path(connections[alias]):
        return bool(
            UserSession.objects.filter(
                pk=session_id, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
            ).update(refresh_jti=new_jti, last_seen_at=now, expires_at=expires_at)
        )
    statement = update_statement(
        UserSession,
        "s",
        columns=("refresh_jti", "last_seen_at", "expires_at"),
        where="{s.id} = %s AND {s.refresh_jti} = %s AND {s.revoked_at} IS NULL"
        " AND {s.expires_at} > %s",
        using=alias,
    )
    return bool(statement.rowcount([new_jti, now, expires_at, session_id, jti, now]))


def sessions_purge(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Deletes sign-ins expired or revoked before ``now - older_than``; the number deleted.
    Nothing is published: these rows ended long ago, and so did every copy of them."""
    cutoff = timezone.now() - older_than
    stale = UserSession.objects.filter(expires_at__lt=cutoff) | UserSession.objects.filter(
        revoked_at__lt=cutoff
    )
    deleted = 0
    while True:
        # Small batches keep each DELETE's locks and WAL short on a busy table.
        ids = list(stale.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        _, per_model = UserSession.objects.filter(pk__in=ids).delete()
        deleted += per_model.get(UserSession._meta.label, 0)


def session_recently_proven(*, session: UserSession) -> bool:
    """Whether the holder of this sign-in proved the password or a factor within the last
    REAUTHENTICATION_SECONDS ("sudo mode" for sensitive changes)."""
    proven = session.proven_at or session.created_at
    return timezone.now() - proven <= timedelta(seconds=settings.REAUTHENTICATION_SECONDS)


def user_session_recently_proven(*, user: User, session_id: str | None) -> bool:
    """Whether ``session_id`` is a live sign-in of ``user`` proven recently: another user's
    sign-in, an ended one or none at all never counts."""
    if not session_id:
        return False
    session = UserSession.objects.filter(pk=session_id, user=user, revoked_at__isnull=True).first()
    return session is not None and session_recently_proven(session=session)


def session_proof_renew(*, session_id: str, amr: str, user: Any = None) -> UserSession | None:
    """The holder proved ``amr`` (the password or a factor) again on this live sign-in: it
    counts as recent from now, and what it proved joins the sign-in's amr (a step-up). With
    ``user``, only a sign-in of that user is renewed (whoever proved is who owns it)."""
    rows = UserSession.objects.filter(pk=session_id, revoked_at__isnull=True)
    session = (rows.filter(user=user) if user is not None else rows).first()
    if session is None:
        return None
    # amr_methods: a sign-in stored before amr existed was a password, and stays one.
    session.amr = amr_join(amr_methods(session.amr), amr)
    session.proven_at = timezone.now()
    UserSession.objects.filter(pk=session.pk).update(amr=session.amr, proven_at=session.proven_at)
    return session
