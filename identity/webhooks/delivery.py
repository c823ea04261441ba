"""How events reach webhook endpoints: the target finder every event passes through, and the
sender that builds each try's signed request.

The finder runs in the transaction of every event, sign-ins included, so it reads the table of
subscriptions (active endpoints, their URLs and types) from the shared cache: no query when it
is cached, the database when the cache is down. The cached table is stored with the version it
was read under, and every endpoint change bumps the version once committed: a process that read
the table before a commit stores it under a version that is already stale, so nobody reads it.
Each process also keeps the table it last read, used while the shared version is unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from identity import encryption
from identity.cache import CACHE_DOWN, invalidate, safe_add, safe_get, safe_set
from identity.event_types import types_for_subscription
from identity.events import DeliveryCancelled, DeliveryTarget, PreparedRequest
from identity.models import Delivery, Event, WebhookEndpoint
from identity.webhooks.signing import signature_header

logger = logging.getLogger(__name__)

WEBHOOK_KIND = "webhook"
TABLE_KEY = "identity:webhooks:subscriptions"
VERSION_KEY = "identity:webhooks:version"
# Bounded like every cached copy; a change invalidates it at once anyway.
TABLE_TIMEOUT = 3600

# (endpoint id, url, the types it receives) for each active endpoint.
Subscription = tuple[str, str, frozenset[str]]


def subscriptions_changed() -> None:
    """An endpoint was saved or deleted: once committed, every process reads the table again
    (kept and replayed if the cache is down, identity.cache)."""
    transaction.on_commit(lambda: invalidate(VERSION_KEY, _version_bump))


def _version_bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # gone (evicted, flushed): a fresh number, never one used before
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)


# This process's copy of the cached table, with the version it was read under and until when
# it may be used (bounded like the shared copy, for a change made past the services): while
# the version in the shared cache is the same, an event costs one small cache read.
_memo: tuple[Any, tuple[Subscription, ...], float] | None = None


def subscriptions() -> tuple[Subscription, ...]:
    """The active endpoints and their types: one cache read of the version when this process
    holds the table of that version, one more when another process read it first."""
    global _memo
    version = safe_get(VERSION_KEY)
    if version is CACHE_DOWN:
        return _subscriptions_load()
    memo = _memo
    if version is not None and memo and memo[0] == version and memo[2] > time.monotonic():
        return memo[1]
    cached = safe_get(TABLE_KEY) if version is not None else None
    if cached and cached is not CACHE_DOWN and cached[0] == version:
        _memo = (version, cached[1], time.monotonic() + TABLE_TIMEOUT)
        return cached[1]
    if version is None:
        safe_add(VERSION_KEY, time.time_ns(), timeout=None)
        version = safe_get(VERSION_KEY)
    table = _subscriptions_load()
    if version is not None and version is not CACHE_DOWN:
        safe_set(TABLE_KEY, (version, table), timeout=TABLE_TIMEOUT)
        _memo = (version, table, time.monotonic() + TABLE_TIMEOUT)
    return table


def _subscriptions_load() -> tuple[Subscription, ...]:
    rows = WebhookEndpoint.objects.filter(is_active=True).order_by("id")
    return tuple(
        (str(pk), url, types_for_subscription(names or []))
        for pk, url, names in rows.values_list("id", "url", "event_types")
    )


def webhook_targets(events: Sequence[Event]) -> Iterable[tuple[Event, DeliveryTarget]]:
    """The target finder: every active endpoint subscribed to each event's type."""
    table = subscriptions()
    if not table:
        return []
    return [
        (event, DeliveryTarget(kind=WEBHOOK_KIND, target=endpoint_id, url=url))
        for event in events
        for endpoint_id, url, types in table
        if event.type in types
    ]


def webhook_send(delivery: Delivery) -> PreparedRequest:
    """The sender: the event as Standard Webhooks JSON, signed now with the endpoint's secrets,
    to the endpoint's current URL. A delivery whose endpoint was deleted, deactivated or
    unsubscribed from the type since it was queued is cancelled (failed, not retried)."""
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.target).first()
    event = delivery.event
    if endpoint is None:
        raise DeliveryCancelled("the webhook endpoint was deleted")
    if not endpoint.is_active:
        raise DeliveryCancelled("the webhook endpoint was deactivated")
    if event.type not in types_for_subscription(endpoint.event_types or []):
        raise DeliveryCancelled(f"the webhook endpoint no longer subscribes to {event.type}")
    body = payload_body(event)
    msg_id = str(event.id)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets=_secrets(endpoint), msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
    return PreparedRequest(url=endpoint.url, body=body, headers=headers)


def payload_body(event: Event) -> bytes:
    """``{"type", "timestamp", "data"}``: data is the event's own data with its ids (subject
    and actor public_id, sid, client_id), which win over a key of the same name."""
    ids = {
        "subject_public_id": _text(event.subject_public_id),
        "actor_public_id": _text(event.actor_public_id),
        "sid": event.sid or None,
        "client_id": event.client_id or None,
    }
    occurred = event.occurred_at.astimezone(dt.UTC)
    payload = {
        "type": event.type,
        "timestamp": occurred.isoformat().replace("+00:00", "Z"),
        "data": {**event.data, **ids},
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    found = [_decrypted(endpoint, "secret_encrypted")]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > timezone.now():
        found.append(_decrypted(endpoint, "previous_secret_encrypted"))
    return found


def _decrypted(endpoint: WebhookEndpoint, field: str) -> str:
    opened = encryption.decrypt(getattr(endpoint, field))
    if opened.stale:  # read with a fallback key: stored again under the current one
        again = encryption.encrypt(opened.plaintext)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**{field: again})
    return opened.plaintext.decode()
