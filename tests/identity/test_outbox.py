"""The outbox in one process: an event commits or rolls back with its change, costs one
statement when nobody is to be told, and a try is classified and counted once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from identity.events import (
    TARGET_FINDERS,
    DeliveryTarget,
    EventDraft,
    deliveries_resume,
    event_record,
    events_record,
    target_finder_add,
)
from identity.models import Delivery, DeliveryAttempt, Event
from identity.tasks import delivery_attempt
from tests.factories import UserFactory
from tests.identity.outbox_receiver import TEST_KIND, Receiver, receiving

pytestmark = pytest.mark.django_db

TARGET = DeliveryTarget(kind=TEST_KIND, target="receiver-1", url="http://127.0.0.1:9/hook")


class Boom(Exception):
    pass


def _change_that_fails() -> None:
    with transaction.atomic():
        event_record("user.updated", data={"fields": ["email"]}, deliveries=[TARGET, TARGET])
        assert Event.objects.count() == 1
        raise Boom


def test_event_in_a_rolled_back_transaction_leaves_no_event_delivery_or_task() -> None:
    with pytest.raises(Boom):
        _change_that_fails()

    assert Event.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


def test_event_committed_with_its_change_has_a_delivery_and_a_task_per_receiver() -> None:
    user = UserFactory()
    other = DeliveryTarget(kind=TEST_KIND, target="receiver-2", url="http://127.0.0.1:9/b")

    event = event_record(
        "session.revoked",
        data={"reason": "user"},
        subject=user,
        sid="s1",
        deliveries=[TARGET, other],
    )

    assert event.subject_public_id == user.public_id
    assert event.sid == "s1"
    deliveries = Delivery.objects.filter(event=event)
    assert {d.target for d in deliveries} == {"receiver-1", "receiver-2"}
    assert {d.status for d in deliveries} == {Delivery.Status.PENDING}
    tasks = DBTaskResult.objects.filter(task_path="identity.tasks.delivery_attempt")
    assert sorted(t.args_kwargs["args"][0] for t in tasks) == sorted(d.pk for d in deliveries)


def test_event_without_receivers_costs_one_statement_in_the_callers_transaction(
    django_assert_num_queries: Callable[..., object],
) -> None:
    # Steady state: an earlier event cached the (empty) table of webhook subscriptions, which
    # every process reads from the shared cache.
    event_record("user.created", data={})
    with transaction.atomic(), django_assert_num_queries(1):  # type: ignore[attr-defined]
        event_record("sign_in.succeeded", data={}, sid="s1")
    assert DBTaskResult.objects.count() == 0


def test_an_event_type_outside_the_catalogue_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_record("user.renamed", data={}, deliveries=[TARGET])
    assert Event.objects.count() == 0


def test_a_failed_sign_in_is_written_only_when_someone_is_to_be_told_of_it() -> None:
    assert event_record("sign_in.failed", data={"reason": "bad_password"}) is None
    assert Event.objects.count() == 0

    told = event_record("sign_in.failed", data={"reason": "bad_password"}, deliveries=[TARGET])

    assert told is not None
    assert told.deliveries.count() == 1


def test_registered_finders_add_receivers_to_events_they_serve_in_one_batch() -> None:
    asked: list[list[str]] = []

    def finder(events):  # type: ignore[no-untyped-def]
        asked.append([e.type for e in events])
        return [(e, TARGET) for e in events if e.type == "session.revoked"]

    target_finder_add(finder)
    try:
        written = events_record(
            [
                EventDraft(type="session.revoked", sid="s1"),
                EventDraft(type="user.updated", data={"changed": ["first_name"]}),
                EventDraft(type="session.revoked", sid="s2"),
            ]
        )
    finally:
        TARGET_FINDERS.remove(finder)

    assert asked == [["session.revoked", "user.updated", "session.revoked"]]
    assert [e.deliveries.count() for e in written] == [1, 0, 1]
    assert DBTaskResult.objects.count() == 2


@pytest.mark.parametrize(
    ("answers", "status", "error"),
    [
        ([204], Delivery.Status.SUCCEEDED, ""),
        ([400], Delivery.Status.FAILED, "HTTP 400"),
        ([302], Delivery.Status.FAILED, "HTTP 302 (redirects are not followed)"),
        ([503], Delivery.Status.PENDING, "HTTP 503"),
        ([429], Delivery.Status.PENDING, "HTTP 429"),
        ([408], Delivery.Status.PENDING, "HTTP 408"),
    ],
)
def test_a_try_is_classified_by_the_receivers_answer(
    settings: object, answers: list[int | str], status: str, error: str
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    receiver = Receiver(scripts={"/hook": answers})
    with receiving(receiver) as url:
        event = event_record(
            "user.created",
            data={},
            deliveries=[DeliveryTarget(kind=TEST_KIND, target="r", url=f"{url}/hook")],
        )
        delivery = event.deliveries.get()
        delivery_attempt.call(delivery.pk, 0)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (status, 1, error)
    assert receiver.ids("/hook") == [str(event.id)]
    assert receiver.ids("/followed") == []
    # The first try's task, and one more queued for later only when a retry may help.
    assert DBTaskResult.objects.count() == (2 if status == Delivery.Status.PENDING else 1)


def test_a_target_refused_by_the_ssrf_rule_fails_without_a_retry(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]
    event = event_record("user.created", data={}, deliveries=[TARGET])
    delivery = event.deliveries.get()

    delivery_attempt.call(delivery.pk, 0)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("refused:")


def test_the_same_try_run_twice_is_made_and_counted_once(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    receiver = Receiver(scripts={"/hook": [503]})
    with receiving(receiver) as url:
        event = event_record(
            "user.created",
            data={},
            deliveries=[DeliveryTarget(kind=TEST_KIND, target="r", url=f"{url}/hook")],
        )
        delivery = event.deliveries.get()
        assert delivery_attempt.call(delivery.pk, 0) == Delivery.Status.PENDING
        assert delivery_attempt.call(delivery.pk, 0) == "skipped"

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert len(receiver.received) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_the_last_retry_failing_gives_up(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    settings.OUTBOX_BACKOFF_SECONDS = [0, 0]  # type: ignore[attr-defined]
    receiver = Receiver(scripts={"/hook": [500]})
    with receiving(receiver) as url:
        event = event_record(
            "user.created",
            data={},
            deliveries=[DeliveryTarget(kind=TEST_KIND, target="r", url=f"{url}/hook")],
        )
        delivery = event.deliveries.get()
        statuses = [delivery_attempt.call(delivery.pk, number) for number in range(3)]

    assert statuses == ["pending", "pending", "gave_up"]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.next_attempt_at) == (3, None)
    assert delivery.finished_at is not None
    assert receiver.ids("/hook") == [str(event.id)] * 3


def test_the_sweep_queues_a_lost_try_again_and_leaves_a_queued_one_alone() -> None:
    waiting = event_record("user.created", data={}, deliveries=[TARGET]).deliveries.get()
    lost = event_record("user.created", data={}, deliveries=[TARGET]).deliveries.get()
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.update(next_attempt_at=long_ago)
    # The lost one's task was taken by a worker that died: django-tasks-db left it RUNNING.
    DBTaskResult.objects.filter(args_kwargs__args__0=lost.pk).update(status="RUNNING")

    assert deliveries_resume() == 1

    queued = DBTaskResult.objects.filter(status="READY")
    assert sorted(task.args_kwargs["args"][0] for task in queued) == sorted([waiting.pk, lost.pk])
    lost.refresh_from_db()
    assert lost.next_attempt_at > timezone.now()  # leased again: the next sweep leaves it
    assert deliveries_resume() == 0


def test_deliveries_resume_command_queues_the_lost_tries_again() -> None:
    lost = event_record("user.created", data={}, deliveries=[TARGET]).deliveries.get()
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    DBTaskResult.objects.update(status="RUNNING")
    out = StringIO()

    call_command("deliveries_resume", stdout=out)

    assert out.getvalue().strip() == "1 deliveries queued again."
    assert DBTaskResult.objects.get(status="READY").args_kwargs["args"] == [lost.pk, 0]
