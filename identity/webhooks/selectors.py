"""Reads of webhook endpoints shared by the admin and the API."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from identity.models import Delivery, WebhookEndpoint
from identity.webhooks.delivery import WEBHOOK_KIND


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("-created_at", "id")


def webhook_endpoint_get(*, endpoint_id: uuid.UUID | str) -> WebhookEndpoint | None:
    try:
        key = uuid.UUID(str(endpoint_id))
    except ValueError:
        return None
    return WebhookEndpoint.objects.filter(pk=key).first()


def webhook_endpoint_deliveries(*, endpoint: WebhookEndpoint, limit: int = 10) -> list[Delivery]:
    """The endpoint's newest deliveries, with their events."""
    found = Delivery.objects.filter(kind=WEBHOOK_KIND, target=str(endpoint.pk))
    return list(found.select_related("event").order_by("-created_at", "-id")[:limit])
