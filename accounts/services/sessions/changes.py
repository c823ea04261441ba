"""The one publisher of sign-in changes, and the hook higher apps register to hear them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings

from accounts import signin_memory
from accounts.models import UserSession
from identity.cache import CACHE_DOWN, safe_get, safe_set_many

REVOKED_SID_PREFIX = "revoked-sid:"
# The channel of a sign-in the publisher was told about without reading its row: a listener
# must assume it may be any channel.
UNKNOWN_CHANNEL = ""


@dataclass(frozen=True)
class SignInChange:
    """What changed: sign-ins that ended (sid -> channel, UNKNOWN_CHANNEL when not read), why
    (the sessions' revoked_reason; empty when not told) and users whose row changed (saved or
    deleted), by primary key."""

    ended: Mapping[str, str] = field(default_factory=dict)
    user_pks: tuple[int, ...] = ()
    reason: str = ""

    @property
    def sids(self) -> list[str]:
        return list(self.ended)

    def sids_maybe_on(self, channel: str) -> list[str]:
        """The ended sign-ins that are, or may be, on ``channel``."""
        return [sid for sid, on in self.ended.items() if on in (channel, UNKNOWN_CHANNEL)]


Listener = Callable[[SignInChange], None]
_listeners: list[Listener] = []


def sign_in_listener_add(listener: Listener) -> None:
    """Registers ``listener`` to be called with every SignInChange, in the changing request (and
    its transaction, if any), after this package's own copies are dropped. An app above accounts
    connects it in its ``AppConfig.ready()`` (sso: its OAuth tokens and their cache). It must
    not fail and should cost nothing for what it does not hold: it runs on every sign-out."""
    if listener not in _listeners:
        _listeners.append(listener)


def sign_in_listener_remove(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def sign_in_listeners() -> tuple[Listener, ...]:
    return tuple(_listeners)


def sign_ins_changed_publish(
    *, ended: Mapping[str, str] | None = None, user_pks: Iterable[int] = (), reason: str = ""
) -> None:
    """Tells every holder of a copy: revoked-sid keys (every process refuses the sids' tokens),
    the sign-in memory of every process (accounts.signin_memory), then each listener."""
    change = SignInChange(ended=dict(ended or {}), user_pks=tuple(user_pks), reason=reason)
    if change.ended:
        _revoked_sids_mark(change.sids)
    signin_memory.forget(sids=change.sids, user_pks=change.user_pks)
    for listener in tuple(_listeners):
        listener(change)


def _revoked_sids_mark(sids: list[str]) -> None:
    lifetime = (
        settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] if hasattr(settings, "SIMPLE_JWT") else None
    )
    timeout = int(lifetime.total_seconds()) + 60 if lifetime else 3600
    # When the cache is down, revoked_at on the rows is the record sid_is_revoked falls back to.
    safe_set_many({REVOKED_SID_PREFIX + sid: True for sid in sids}, timeout=timeout)


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
