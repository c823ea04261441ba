"""Sign-ins as UserSession rows: starting and ending browser sessions, bulk revocation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest
from django.utils import timezone

from accounts import signin_memory
from accounts.devices import MAX_USER_AGENT, device_label
from accounts.errors import SessionNotFound
from accounts.models import Channel, User, UserSession
from identity.cache import CACHE_DOWN, safe_add, safe_get, safe_set_many
from identity.net import client_ip

SESSION_ID_KEY = "_user_session_id"
REVOKED_SID_PREFIX = "revoked-sid:"
CLIENT_ATTR = "_request_client"
REAUTH_KEY = "_reauthentication_requested_at"
# A re-authentication asked for and abandoned stops showing the sign-in page after this.
REAUTH_WINDOW = 600


def request_client(request: HttpRequest) -> dict[str, str]:
    """The IP, user agent and device label of a request, as stored on sessions and events.

    Worked out once per request: a sign-in needs it for its event, its alert and its session.
    """
    known = getattr(request, CLIENT_ATTR, None)
    if known is not None:
        return dict(known)
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT]
    client = {
        "ip": client_ip(request),
        "user_agent": user_agent,
        "device_label": device_label(user_agent),
    }
    setattr(request, CLIENT_ATTR, client)
    return dict(client)


def browser_session_start(*, request: HttpRequest, user: User) -> UserSession:
    """Signs the browser in (a fresh session key) and records the sign-in."""
    login(request, user)
    session = browser_session_row(request=request, user=user)
    session.save(force_insert=True)
    request.session[SESSION_ID_KEY] = str(session.id)
    return session


def browser_session_row(*, request: HttpRequest, user: User) -> UserSession:
    """The unsaved UserSession of a browser just signed in by ``login()``; the caller saves
    it (the sign-in page writes it with its login event) and stores its id in the session."""
    return UserSession(
        user=user,
        channel=Channel.BROWSER,
        session_key=request.session.session_key or "",
        expires_at=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE),
        **request_client(request),
    )


def browser_session_adopt(*, request: HttpRequest) -> UserSession:
    """Records a browser sign-in made by a login view outside our services (Django admin's).

    Every signed-in browser session then has a UserSession, so it can be listed and revoked.
    """
    channel = Channel.ADMIN if request.path.startswith("/admin/") else Channel.BROWSER
    session = UserSession.objects.create(
        user=request.user,
        channel=channel,
        session_key=request.session.session_key or "",
        expires_at=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE),
        **request_client(request),
    )
    request.session[SESSION_ID_KEY] = str(session.id)
    return session


def browser_session_supersede(*, session_id: str) -> None:
    """A browser that signs in again (re-authentication, or another account) leaves its
    earlier sign-in behind: that one ends, so it is neither listed nor usable as live."""
    now = timezone.now()
    UserSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason="signed_in_again", updated_at=now
    )
    sids_mark_revoked([str(session_id)])


def reauthentication_request(*, request: HttpRequest) -> None:
    """Asks the sign-in page to authenticate this browser again although it is signed in
    (OIDC Core §3.1.2.1: ``prompt=login``, an exceeded ``max_age``)."""
    request.session[REAUTH_KEY] = timezone.now().timestamp()


def reauthentication_pending(*, request: HttpRequest) -> bool:
    requested = request.session.get(REAUTH_KEY)
    return requested is not None and timezone.now().timestamp() - requested < REAUTH_WINDOW


def reauthenticated_since_request(*, request: HttpRequest, auth_time: datetime | None) -> bool:
    """Whether the browser signed in after re-authentication was asked for; answers True once,
    so a request that asks again (prompt=login, max_age=0) cannot loop."""
    requested = request.session.get(REAUTH_KEY)
    if requested is None or auth_time is None or auth_time.timestamp() < requested:
        return False
    del request.session[REAUTH_KEY]
    return True


def browser_session_end(*, request: HttpRequest) -> None:
    session_id = request.session.get(SESSION_ID_KEY)
    if session_id:
        UserSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason="signed_out"
        )
        sids_mark_revoked([str(session_id)])
    logout(request)


def session_revoke(*, session: UserSession, reason: str) -> None:
    """Ends one sign-in on any channel: its browser session, refreshes and access tokens."""
    now = timezone.now()
    UserSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=reason[:40], refresh_jti="", updated_at=now
    )
    if session.session_key:
        _end_browser_sessions([session.session_key])
    # Always publish, even when already revoked: the cache entry may have been evicted.
    sids_mark_revoked([str(session.pk)])
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = now, reason[:40]
    session.refresh_jti = ""


def user_sessions_revoke(*, user: User, reason: str, except_session_id: str | None = None) -> int:
    """Ends every live sign-in of ``user`` (but one), on every channel, at once."""
    live = UserSession.objects.filter(user=user, revoked_at__isnull=True)
    if except_session_id:
        live = live.exclude(pk=except_session_id)
    rows = list(live.values_list("id", "session_key"))
    if not rows:
        return 0
    now = timezone.now()
    UserSession.objects.filter(pk__in=[sid for sid, _ in rows]).update(
        revoked_at=now, revoked_reason=reason[:40], refresh_jti="", updated_at=now
    )
    _end_browser_sessions([key for _, key in rows if key])
    sids_mark_revoked([str(sid) for sid, _ in rows])
    return len(rows)


def sids_mark_revoked(sids: list[str]) -> None:
    """Publishes revoked sids through the shared cache, so every process refuses their tokens."""
    lifetime = (
        settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] if hasattr(settings, "SIMPLE_JWT") else None
    )
    timeout = int(lifetime.total_seconds()) + 60 if lifetime else 3600
    # When the cache is down, revoked_at on the rows is the record sid_is_revoked falls back to.
    safe_set_many({REVOKED_SID_PREFIX + sid: True for sid in sids}, timeout=timeout)
    # Processes that remember these sign-ins for access tokens forget them.
    signin_memory.forget(sids=sids)


def _end_browser_sessions(session_keys: list[str]) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in session_keys:
        store(session_key=key).delete()


def session_touch(*, session_id: str) -> bool:
    """Records activity on a sign-in at most once per SESSION_TOUCH_SECONDS (one cache add)."""
    added = safe_add(f"session-touched:{session_id}", 1, timeout=settings.SESSION_TOUCH_SECONDS)
    if not added:  # touched recently, or the cache is down: last-seen can wait
        return False
    UserSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
        last_seen_at=timezone.now()
    )
    return True


def sid_is_revoked(sid: str) -> bool:
    """One cache read: revoked sign-ins are published there by every process that revokes.
    While the cache is down, the session row answers (one query)."""
    found = safe_get(f"{REVOKED_SID_PREFIX}{sid}")
    if found is CACHE_DOWN:
        return _sid_revoked_in_database(str(sid))
    return found is not None


def _sid_revoked_in_database(sid: str) -> bool:
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
        return True  # not a sid this portal issued
    return UserSession.objects.filter(pk=session_id, revoked_at__isnull=False).exists()


def user_session_revoke(*, user: User, session_id: str, reason: str) -> UserSession:
    """Ends one of ``user``'s own sign-ins; another user's id is simply not found."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise SessionNotFound()
    session_revoke(session=session, reason=reason)
    return session
