"""The delivery task the worker runs: one try of one delivery, and what comes after it.

Retries follow ``settings.OUTBOX_BACKOFF_SECONDS`` (by default 30 s, 2 min, 10 min, 30 min,
1 h, 3 h, 6 h, 12 h: 9 tries over about 23 hours), each by the task queuing itself again with
``run_after``. A 2xx ends the delivery as succeeded; a timeout, a connection error, 408, 429
or 5xx is retried; any other answer (a redirect is never followed: it is a failure), a URL
the SSRF rule refuses, or a sender's ``DeliveryCancelled`` (its receiver is gone) ends it as
failed; the last retry failing ends it as given up.

At-least-once and safe to run twice: the task names the try it is for (the delivery's
``attempts`` when queued) and takes it by a compare-and-swap on that count under a row lock,
so a duplicate task (the sweep's, the admin's) finds the try taken and does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from identity import events
from identity.models import Delivery, DeliveryAttempt
from identity.outbound import OutboundRefused, post

logger = logging.getLogger(__name__)

RETRIED_STATUS_CODES = frozenset({408, 429})


@dataclass(frozen=True)
class Outcome:
    """How one try ended: ``retry`` says whether another try may help."""

    succeeded: bool
    retry: bool
    error: str = ""
    status_code: int | None = None


@task()
def delivery_attempt(delivery_id: int, attempts: int) -> str:
    """Makes try number ``attempts + 1`` of the delivery, unless it was made or the delivery
    has ended; returns what happened (kept on the task's row)."""
    try_ = _claim(delivery_id, attempts)
    if try_ is None:
        return "skipped"
    delivery, number = try_
    outcome = _try(delivery)
    status = _finish(delivery_id, number, outcome)
    logger.info(
        "delivery %s kind=%s attempt=%s status_code=%s -> %s",
        delivery_id,
        delivery.kind,
        number,
        outcome.status_code,
        status,
    )
    return status


def _claim(delivery_id: int, attempts: int) -> tuple[Delivery, int] | None:
    """Takes the try: counts it and leases the delivery for its length (past the lease, the
    sweep queues it again: the worker died)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return None
        if delivery.attempts != attempts:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + events.lease()
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
        DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=now)
    return delivery, delivery.attempts


def _try(delivery: Delivery) -> Outcome:
    sender = events.SENDERS.get(delivery.kind)
    if sender is None:
        return Outcome(succeeded=False, retry=True, error=f"no sender for {delivery.kind!r}")
    try:
        request = sender(delivery)
        response = post(
            request.url,
            content=request.body,
            headers=request.headers,
            timeout=settings.OUTBOX_TIMEOUT_SECONDS,
        )
    except events.DeliveryCancelled as cancelled:
        return Outcome(succeeded=False, retry=False, error=f"cancelled: {cancelled}"[:200])
    except OutboundRefused as refusal:
        return Outcome(succeeded=False, retry=False, error=f"refused: {refusal}"[:200])
    except httpx.TimeoutException:
        return Outcome(succeeded=False, retry=True, error="timed out")
    except httpx.TransportError as error:
        return Outcome(succeeded=False, retry=True, error=f"connection: {type(error).__name__}")
    except Exception as error:  # a sender's bug must not lose the delivery: retried, logged
        logger.exception("delivery %s: the %s sender failed", delivery.pk, delivery.kind)
        return Outcome(succeeded=False, retry=True, error=f"sender: {type(error).__name__}")
    return _classify(response.status_code)


def _classify(code: int) -> Outcome:
    if 200 <= code < 300:
        return Outcome(succeeded=True, retry=False, status_code=code)
    retry = code in RETRIED_STATUS_CODES or code >= 500
    error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    return Outcome(succeeded=False, retry=retry, error=error, status_code=code)


def _finish(delivery_id: int, number: int, outcome: Outcome) -> str:
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.filter(delivery_id=delivery_id, number=number).update(
            finished_at=now, status_code=outcome.status_code, error=outcome.error
        )
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        # A later try (this one outlived its lease) decides, unless this one got through.
        stale = delivery.attempts != number or delivery.status != Delivery.Status.PENDING
        if stale and not (outcome.succeeded and delivery.status != Delivery.Status.SUCCEEDED):
            return "superseded"
        delivery.last_error = outcome.error
        delivery.last_status_code = outcome.status_code
        delivery.status = _next_status(outcome, number)
        if delivery.status == Delivery.Status.PENDING:
            wait = timedelta(seconds=settings.OUTBOX_BACKOFF_SECONDS[number - 1])
            delivery.next_attempt_at = now + wait
            delivery_attempt.using(run_after=delivery.next_attempt_at).enqueue(delivery_id, number)
        else:
            delivery.next_attempt_at = None
            delivery.finished_at = now
        delivery.save()
    return delivery.status


def _next_status(outcome: Outcome, number: int) -> str:
    if outcome.succeeded:
        return Delivery.Status.SUCCEEDED
    if not outcome.retry:
        return Delivery.Status.FAILED
    if number > len(settings.OUTBOX_BACKOFF_SECONDS):
        return Delivery.Status.GAVE_UP
    return Delivery.Status.PENDING
