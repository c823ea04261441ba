"""OpenID Connect Back-Channel Logout 1.0: who is told that a sign-in ended, and the logout token.

When a sign-in ends (accounts.services.sessions writes a ``session.revoked`` event for each one
that was live), the application that holds its tokens is sent a logout token, if it registered
a ``backchannel_logout_uri``. An OAuth sign-in's sid is its ``SignIn`` id: its refresh-token
family and every access token minted from it belong to that one application. A portal browser
sign-in holds no application's tokens; the OAuth sign-ins it approved end with it
(sso.services.sign_ins_end_approved_by), each with its own event and its own delivery.

The token is minted at each try (identity.events: a sender per kind), so a retry never sends
an expired one: §2.4 claims, signed with the portal's current key like the id_token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlencode

import jwt

from accounts.models import Channel
from identity.events import DeliveryCancelled, DeliveryTarget, PreparedRequest
from identity.keys import ALGORITHM, signing_keys
from identity.models import Delivery, Event
from sso.models import Application, SignIn
from sso.services import issuer

KIND = "backchannel_logout"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# §2.4 asks for a short lifetime; two minutes covers clock skew and a slow receiver.
LOGOUT_TOKEN_SECONDS = 120
# §2.4: "explicit typing of logout tokens is RECOMMENDED" (RFC 8725 §3.11).
LOGOUT_JWT_TYP = "logout+jwt"


def backchannel_logout_targets(events: Sequence[Event]) -> list[tuple[Event, DeliveryTarget]]:
    """identity.events' finder: for each ended OAuth sign-in among ``events``, its application
    when it has a back-channel logout URI. One query for the whole batch, and none unless an
    OAuth sign-in ended. It also fills in the event's client_id, which accounts (the writer)
    cannot know."""
    ended = {
        event.sid: event
        for event in events
        if event.type == "session.revoked" and event.data.get("channel") == Channel.OAUTH
    }
    if not ended:
        return []
    rows = SignIn.objects.filter(pk__in=list(ended)).values_list(
        "pk", "application__client_id", "application__backchannel_logout_uri"
    )
    targets = []
    for pk, client_id, uri in rows:
        event = ended[str(pk)]
        event.client_id = event.client_id or client_id
        if uri:
            targets.append((event, DeliveryTarget(kind=KIND, target=client_id, url=uri)))
    return targets


def backchannel_logout_request(delivery: Delivery) -> PreparedRequest:
    """identity.events' sender for KIND: a fresh logout token, POSTed form-encoded (§2.5) to
    the URI the application has now. An application deleted, or whose URI was removed, since
    the delivery was queued is no longer to be told: DeliveryCancelled ends it, not retried."""
    application = (
        Application.objects.filter(client_id=delivery.target)
        .only("client_id", "backchannel_logout_uri")
        .first()
    )
    if application is None:
        raise DeliveryCancelled("the application was deleted")
    if not application.backchannel_logout_uri:
        raise DeliveryCancelled("the application no longer has a back-channel logout URI")
    event = delivery.event
    token = logout_token_build(
        client_id=application.client_id,
        sub=str(event.subject_public_id) if event.subject_public_id else None,
        sid=event.sid or None,
    )
    return PreparedRequest(
        url=application.backchannel_logout_uri,
        body=urlencode({"logout_token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def logout_token_build(*, client_id: str, sub: str | None, sid: str | None) -> str:
    """A logout token (§2.4): iss, aud, iat, exp, a unique jti, sub and/or sid, the events
    claim, and never a nonce (§2.4: a receiver refuses one that has it). RS256 with the active
    key, its kid in the header, as the id_token (the RP verifies both with the same JWKS)."""
    if not sub and not sid:
        raise ValueError("a logout token names a sub, a sid or both")
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    key = signing_keys().active
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=ALGORITHM,
        headers={"typ": LOGOUT_JWT_TYP, "kid": key.kid},
    )
