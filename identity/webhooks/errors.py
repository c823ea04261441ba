"""Refusals of the webhook endpoint services, each with a stable code (listed in the API schema)."""

from __future__ import annotations

from identity.errors import ApplicationError


class WebhookEndpointNotFound(ApplicationError):
    code = "webhook_not_found"
    status = 404
    message = "No such webhook endpoint."


class WebhookUrlRefused(ApplicationError):
    """The URL is one the portal will not call (identity.outbound.receiver_url_refusal)."""

    code = "webhook_url_refused"
    status = 400
    message = "This URL cannot receive webhooks."
    field = "url"


class UnknownEventType(ApplicationError):
    code = "unknown_event_type"
    status = 400
    message = "Unknown event type."
    field = "event_types"


class EventTypesRequired(ApplicationError):
    code = "event_types_required"
    status = 400
    message = 'Name at least one event type, or "*" for every type.'
    field = "event_types"
