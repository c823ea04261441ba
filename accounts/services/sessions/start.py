"""Starting sign-ins: the one INSERT of a UserSession, for every channel."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from accounts.devices import MAX_USER_AGENT, device_label
from accounts.models import AuthMethod, LoginEvent, User, UserSession
from accounts.services.events import sign_in_success_draft
from identity.events import events_record
from identity.net import client_ip

CLIENT_ATTR = "_request_client"


def request_client(request: HttpRequest) -> dict[str, str]:
    """The IP, user agent and device label of a request, as stored on sessions and events.

    Worked out once per request: a sign-in needs it for its event, its alert and its session.
    """
    known = getattr(request, CLIENT_ATTR, None)
    if known is not None:
        return dict(known)
    client = client_describe(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT"))
    setattr(request, CLIENT_ATTR, client)
    return dict(client)


def client_describe(*, ip: str | None, user_agent: str | None) -> dict[str, str]:
    """The client fields of a sign-in from its IP and user agent (a caller without a request)."""
    user_agent = (user_agent or "")[:MAX_USER_AGENT]
    return {"ip": ip, "user_agent": user_agent, "device_label": device_label(user_agent)}


def session_start(
    *,
    user: User,
    channel: str,
    client: Mapping[str, str | None],
    lifetime: timedelta,
    sid: uuid.UUID | None = None,
    session_key: str = "",
    refresh_jti: str = "",
    event: LoginEvent | None = None,
    amr: str = AuthMethod.PASSWORD,
    client_id: str = "",
) -> UserSession:
    """Records a new sign-in on ``channel`` and returns it.

    ``client`` holds ip, user_agent and device_label (request_client, client_describe).
    ``sid`` is given when tokens naming it exist already (the API's refresh token, the OAuth
    sign-in's id_token). ``event`` is the success LoginEvent, written with the row in one
    statement (identity.postgres.rows_insert): one round trip and one commit per sign-in.
    ``amr`` says how it was proven (AuthMethod values, space-separated; the event gets the
    same): a UserSession exists only once every required factor is proven. The sign-in's
    ``sign_in.succeeded`` event (``client_id``: the OAuth application's) goes in the same
    statement: a sign-in is never recorded without its event, nor the event without it.
    """
    now = timezone.now()
    session = UserSession(
        id=sid or uuid.uuid4(),
        user=user,
        channel=channel,
        ip=client.get("ip") or None,
        user_agent=client.get("user_agent") or "",
        device_label=client.get("device_label") or "",
        session_key=session_key,
        refresh_jti=refresh_jti,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        amr=amr,
        proven_at=now,
    )
    if event is not None:
        event.amr = amr
    rows = (event, session) if event is not None else (session,)
    events_record([sign_in_success_draft(session=session, client_id=client_id)], rows=rows)
    return session
