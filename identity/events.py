"""The outbox: events written with the change that causes them, and who delivers them.

An app records an event inside its own transaction (``event_record``); the event, one
``Delivery`` per receiver and one django-tasks row per delivery commit or roll back with the
change, so a process that dies after the commit loses nothing: the worker (``manage.py
db_worker``) finds the task rows. Each kind of receiver has a sender in ``SENDERS`` that
builds the request at each try (a back-channel logout token is minted fresh per try); the apps
register theirs, as accounts registers its factor provers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from identity.event_types import EVENT_TYPES, RECORDED_ONLY_WHEN_DELIVERED
from identity.models import Delivery, Event
from identity.postgres import rows_insert


@dataclass(frozen=True)
class DeliveryTarget:
    """One receiver of an event: the sender that delivers to it (``kind``), the receiver's id
    for that sender (an endpoint id, a client id) and its URL."""

    kind: str
    target: str
    url: str


@dataclass(frozen=True)
class PreparedRequest:
    """What a sender builds for one try: the POST to make (the URL is the delivery's unless the
    sender says otherwise)."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class DeliveryCancelled(Exception):
    """A sender's answer when its delivery is no longer to be made (a webhook endpoint deleted,
    deactivated or unsubscribed, an application deleted or its back-channel URI removed, since
    the event was queued): the delivery ends as failed with this message, untried, no retry."""


Sender = Callable[[Delivery], PreparedRequest]
# Given events about to be written (unsaved: ``id``, ``type``, ``data``, ``sid``, ``client_id``,
# ``subject_public_id`` are set), the receivers each should go to, as (event, target) pairs.
TargetFinder = Callable[[Sequence[Event]], Iterable[tuple[Event, DeliveryTarget]]]

# kind -> the function that builds a delivery's request at each try. Registered by the apps.
SENDERS: dict[str, Sender] = {}
# Who else is told of an event (webhook endpoints, back-channel logout), registered by the
# apps in their AppConfig.ready(). A finder runs in the emitting transaction on every event:
# it must cost no query for the types it does not serve (the sign-in path's budget).
TARGET_FINDERS: list[TargetFinder] = []


def target_finder_add(finder: TargetFinder) -> None:
    if finder not in TARGET_FINDERS:
        TARGET_FINDERS.append(finder)


@dataclass(frozen=True)
class EventDraft:
    """One event for ``events_record``: the arguments of ``event_record``."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: Any = None
    subject: Any = None
    sid: str | None = None
    client_id: str | None = None
    deliveries: tuple[DeliveryTarget, ...] = ()


def event_record(
    type: str,
    *,
    data: Mapping[str, Any],
    actor: Any = None,
    subject: Any = None,
    sid: str | None = None,
    client_id: str | None = None,
    deliveries: Iterable[DeliveryTarget] = (),
) -> Event | None:
    """Writes the event and its deliveries in the caller's transaction (joined without a
    savepoint: one INSERT when nobody is to be told, the sign-in path's budget) and queues a
    delivery task per receiver in that same transaction. ``actor`` and ``subject`` are users
    (their ``public_id`` is kept); ``data`` holds ids and what changed, never a secret.
    Receivers are ``deliveries`` plus what the registered finders add. None when the type is
    one written only when delivered and nobody is to be told."""
    draft = EventDraft(
        type=type,
        data=data,
        actor=actor,
        subject=subject,
        sid=sid,
        client_id=client_id,
        deliveries=tuple(deliveries),
    )
    written = events_record([draft])
    return written[0] if written else None


def events_record(drafts: Iterable[EventDraft], *, rows: Sequence[Model] = ()) -> list[Event]:
    """``event_record`` for several events at once (a user's every sign-in ending): one INSERT
    of the events, one of their deliveries, each finder asked once for all of them.

    ``rows`` are the change's own new rows (a sign-in's UserSession and LoginEvent), written
    with the events in one statement (``identity.postgres.rows_insert``): atomic by itself,
    so the change and its events commit together even outside a transaction, at no statement
    more than the change alone when nobody is to be told."""
    drafts = list(drafts)
    for draft in drafts:
        if draft.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {draft.type!r}: add it to identity.event_types")
    events = [
        Event(
            type=draft.type,
            data=dict(draft.data),
            actor_public_id=getattr(draft.actor, "public_id", None),
            subject_public_id=getattr(draft.subject, "public_id", None),
            sid=str(draft.sid or ""),
            client_id=draft.client_id or "",
        )
        for draft in drafts
    ]
    pairs = [
        (event, t) for event, draft in zip(events, drafts, strict=True) for t in draft.deliveries
    ]
    if events:
        for finder in tuple(TARGET_FINDERS):
            pairs.extend(finder(events))
    told = {id(event) for event, _ in pairs}
    events = [e for e in events if e.type not in RECORDED_ONLY_WHEN_DELIVERED or id(e) in told]
    if not events and not rows:
        return []
    if not pairs and (rows or len(events) == 1):
        # One INSERT is atomic by itself: no BEGIN and COMMIT around it outside a transaction
        # (the sign-in path's budget), and it joins the caller's transaction inside one.
        rows_insert(*rows, *events)
        return events
    with transaction.atomic(savepoint=False):
        if rows:
            rows_insert(*rows, *events)
        elif len(events) == 1:
            events[0].save(force_insert=True)
        else:
            Event.objects.bulk_create(events)
        if pairs:
            created = Delivery.objects.bulk_create(
                Delivery(event=event, kind=t.kind, target=t.target, url=t.url) for event, t in pairs
            )
            for row in created:
                _enqueue(row, run_after=None)
    return events


def delivery_retry_now(*, delivery: Delivery) -> bool:
    """Queues one more try of a delivery now (the admin's "Retry now"); False for one that
    already succeeded. A failed or given-up delivery becomes pending again: if that try fails
    too it ends as it would have (its tries are counted on)."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == Delivery.Status.SUCCEEDED:
            return False
        locked.status = Delivery.Status.PENDING
        locked.finished_at = None
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "finished_at", "next_attempt_at", "updated_at"])
        _enqueue(locked, run_after=None)
    return True


def deliveries_resume() -> int:
    """Queues again every pending delivery whose time has passed and whose task is gone: a
    try whose worker died (its lease ran out; django-tasks-db leaves that task RUNNING for
    ever) or a task that failed outside the sender. One whose task still waits in the queue
    is left to it (were it queued twice, the second would find the try taken and do nothing,
    ``identity.tasks``). Returns how many were queued."""
    now = timezone.now()
    count = 0
    with transaction.atomic():
        stale = Delivery.objects.select_for_update(skip_locked=True).filter(
            status=Delivery.Status.PENDING, next_attempt_at__lt=now - _sweep_grace()
        )
        for delivery in stale[:500]:
            if _waits_in_queue(delivery):
                continue
            delivery.next_attempt_at = now + lease()
            delivery.save(update_fields=["next_attempt_at", "updated_at"])
            _enqueue(delivery, run_after=None)
            count += 1
    return count


def _waits_in_queue(delivery: Delivery) -> bool:
    from identity.tasks import delivery_attempt

    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY,
        task_path=delivery_attempt.module_path,
        args_kwargs__args__0=delivery.pk,
    ).exists()


def lease() -> timedelta:
    """How long a try may hold its delivery: a timeout per phase (connect, send, answer) and
    room for the bookkeeping around it."""
    return timedelta(seconds=3 * settings.OUTBOX_TIMEOUT_SECONDS + 5)


def _sweep_grace() -> timedelta:
    # A due task normally runs within the worker's poll interval: leave it that long first.
    return timedelta(seconds=min(settings.OUTBOX_SWEEP_SECONDS, 60))


def _enqueue(delivery: Delivery, *, run_after: Any) -> None:
    from identity.tasks import delivery_attempt

    task = delivery_attempt if run_after is None else delivery_attempt.using(run_after=run_after)
    task.enqueue(delivery.pk, delivery.attempts)
