"""Registering, changing, removing webhook endpoints and rotating their secrets: one path for
the admin and the API. Every change tells the subscription table every process caches
(``delivery.subscriptions_changed``) once it is committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from identity import encryption
from identity.event_types import EVENT_TYPES
from identity.models import WebhookEndpoint
from identity.outbound import receiver_url_refusal
from identity.webhooks.delivery import subscriptions_changed
from identity.webhooks.errors import EventTypesRequired, UnknownEventType, WebhookUrlRefused
from identity.webhooks.signing import secret_generate

EVERY_TYPE = "*"
# How long the previous secret still signs after a rotation: receivers switch meanwhile.
ROTATION_GRACE = timedelta(hours=24)
UPDATABLE = ("url", "description", "event_types", "is_active")


def webhook_url_check(url: str) -> str:
    """The URL, stripped, if the portal will call it: the receivers' rule
    (identity.outbound.receiver_url_refusal: https and public targets unless
    WEBHOOK_ALLOW_PRIVATE)."""
    url = url.strip()
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise WebhookUrlRefused("The URL is too long.")
    refusal = receiver_url_refusal(url)
    if refusal:
        raise WebhookUrlRefused(refusal)
    return url


def event_types_check(names: Iterable[str]) -> list[str]:
    """The names, deduplicated and sorted, if each is a catalogue type or "*"."""
    chosen = sorted(set(names))
    if not chosen:
        raise EventTypesRequired()
    unknown = [name for name in chosen if name != EVERY_TYPE and name not in EVENT_TYPES]
    if unknown:
        valid = ", ".join([EVERY_TYPE, *sorted(EVENT_TYPES)])
        raise UnknownEventType(
            f"Unknown event type {', '.join(map(repr, unknown))}. Valid types: {valid}."
        )
    return chosen


@transaction.atomic
def webhook_endpoint_create(
    *,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    is_active: bool = True,
    created_by: Any = None,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, the only time the secret is given out."""
    secret = secret_generate()
    endpoint = WebhookEndpoint(
        url=webhook_url_check(url),
        event_types=event_types_check(event_types),
        description=description,
        is_active=is_active,
        secret_encrypted=encryption.encrypt(secret.encode()),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    endpoint.full_clean()
    endpoint.save(force_insert=True)
    subscriptions_changed()
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, data: Mapping[str, Any]
) -> WebhookEndpoint:
    """Changes the named fields among url, description, event_types, is_active; the secret
    changes only by ``webhook_endpoint_secret_rotate``."""
    unknown = set(data) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if "url" in data:
        endpoint.url = webhook_url_check(data["url"])
    if "event_types" in data:
        endpoint.event_types = event_types_check(data["event_types"])
    for name in ("description", "is_active"):
        if name in data:
            setattr(endpoint, name, data[name])
    endpoint.full_clean()
    endpoint.save()
    subscriptions_changed()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Removes the endpoint; its deliveries still queued end as failed at their next try."""
    endpoint.delete()
    subscriptions_changed()


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new secret, returned once; the current one keeps signing for ROTATION_GRACE beside it
    (a rotation within the grace period drops the oldest: two secrets at most)."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = secret_generate()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    locked.secret_encrypted = encryption.encrypt(secret.encode())
    locked.save(
        update_fields=[
            "previous_secret_encrypted",
            "previous_secret_expires_at",
            "secret_encrypted",
            "updated_at",
        ]
    )
    for name in ("previous_secret_encrypted", "previous_secret_expires_at", "secret_encrypted"):
        setattr(endpoint, name, getattr(locked, name))
    endpoint.updated_at = locked.updated_at
    return secret
