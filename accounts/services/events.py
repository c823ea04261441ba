"""The events accounts' services write to the outbox (identity.events): whose account, who did
it, and what changed by name; never a password, hash, token, code or email address.

Each service calls these inside its own transaction; the payloads are documented in
docs/events.md ("Event types and payloads").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import HttpRequest

from accounts.models import Channel, User, UserSession
from identity.events import EventDraft, event_record

# How a password came to change (user.password_changed's data.how).
HOW_CHANGE, HOW_RESET, HOW_ADMIN = "change", "reset", "admin"


def user_event_record(
    type: str, *, user: User | None, actor: Any = None, data: Mapping[str, Any] | None = None
) -> None:
    """An account event: ``user`` is whose account, ``actor`` who did it (None: the system,
    or an anonymous sign-up)."""
    event_record(type, data=data or {}, actor=_real(actor), subject=user)


def user_update_record(*, user: User, changed: Iterable[str], actor: Any = None) -> None:
    """user.updated naming the fields that changed; nothing when none did."""
    names = sorted(set(changed))
    if names:
        user_event_record("user.updated", user=user, actor=actor, data={"changed": names})


def sign_in_success_draft(*, session: UserSession, client_id: str = "") -> EventDraft:
    """sign_in.succeeded for a sign-in being recorded (its UserSession): session_start writes
    it in the session's own statement."""
    return EventDraft(
        type="sign_in.succeeded",
        data={"channel": session.channel, "amr": (session.amr or "").split()},
        actor=session.user,
        subject=session.user,
        sid=str(session.pk),
        client_id=client_id,
    )


def sign_in_failure_record(
    *, user: User | None, channel: str, outcome: str, ip: str | None
) -> None:
    """sign_in.failed: written only when a receiver wants it (identity.event_types), and then
    without the identifier tried, which may be a password typed in the wrong field."""
    event_record(
        "sign_in.failed",
        data={"channel": channel, "outcome": outcome, "ip": ip or None},
        subject=user,
    )


def channel_of(request: HttpRequest) -> str:
    """The channel of a request that has no session yet (a failure, a lockout)."""
    path = request.path
    if path.startswith("/api/"):
        return Channel.API
    return Channel.ADMIN if path.startswith("/admin/") else Channel.BROWSER


def _real(actor: Any) -> Any:
    # An anonymous request's user is no actor.
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None
