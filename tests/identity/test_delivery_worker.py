"""The real worker process (`manage.py db_worker`) delivers the outbox to a receiver on
loopback: retried through downtime, 5xx and slowness, stopped by a 4xx or a redirect, and
nothing lost when the worker is killed in the middle of a try."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from django_tasks_db.models import DBTaskResult

from identity.events import DeliveryTarget, event_record
from identity.models import Delivery, Event
from tests.identity.outbox_receiver import (
    TEST_KIND,
    Receiver,
    free_port,
    receiving,
    wait_for,
    worker,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _record(url: str) -> tuple[Event, Delivery]:
    event = event_record(
        "user.created",
        data={"public_id": "p"},
        deliveries=[DeliveryTarget(kind=TEST_KIND, target="receiver", url=url)],
    )
    return event, event.deliveries.get()


def _status(delivery: Delivery) -> str:
    delivery.refresh_from_db()
    return delivery.status


def test_worker_retries_a_receiver_that_is_down_then_fails_then_answers(tmp_path: Path) -> None:
    port = free_port()
    event, delivery = _record(f"http://127.0.0.1:{port}/hook")
    receiver = Receiver(scripts={"/hook": [503, 200]})

    with worker(tmp_path):
        wait_for(lambda: delivery.tries.filter(finished_at__isnull=False).exists(), what="a try")
        with receiving(receiver, port=port):
            wait_for(lambda: _status(delivery) != "pending", what="the delivery to end")

    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempts == 3
    tries = list(delivery.tries.order_by("number").values_list("status_code", "error"))
    assert tries[0] == (None, "connection: ConnectError")
    assert tries[1:] == [(503, "HTTP 503"), (200, "")]
    assert receiver.ids("/hook") == [str(event.id)] * 2
    assert [item.answered for item in receiver.received] == [503, 200]


@pytest.mark.parametrize(
    ("answer", "error"), [(400, "HTTP 400"), (302, "HTTP 302 (redirects are not followed)")]
)
def test_worker_stops_at_once_on_a_client_error_or_a_redirect(
    tmp_path: Path, answer: int, error: str
) -> None:
    receiver = Receiver(scripts={"/hook": [answer, 200]})
    with receiving(receiver) as url:
        event, delivery = _record(f"{url}/hook")
        with worker(tmp_path):
            wait_for(lambda: _status(delivery) != "pending", what="the delivery to end")

    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, error)
    assert receiver.ids("/hook") == [str(event.id)]
    assert receiver.ids("/followed") == []
    # The worker logs which delivery and what came back, never the URL (it may hold a secret).
    log = (tmp_path / "worker.log").read_text()
    assert f"delivery {delivery.pk} kind=test attempt=1 status_code={answer} -> failed" in log
    assert "/hook" not in log


def test_worker_retries_a_receiver_slower_than_the_timeout(tmp_path: Path) -> None:
    receiver = Receiver(scripts={"/hook": ["slow", 200]}, slow_seconds=2.5)
    with receiving(receiver) as url:
        event, delivery = _record(f"{url}/hook")
        with worker(tmp_path, timeout=1.0):
            wait_for(lambda: _status(delivery) != "pending", what="the delivery to end")

    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert delivery.tries.get(number=1).error == "timed out"
    assert set(receiver.ids("/hook")) == {str(event.id)}


def test_a_delivery_whose_worker_is_killed_mid_try_is_delivered_by_the_next(
    tmp_path: Path,
) -> None:
    receiver = Receiver(scripts={"/hook": ["block", 200]})
    with receiving(receiver) as url:
        event, delivery = _record(f"{url}/hook")
        with worker(tmp_path, timeout=2.0) as first:
            assert receiver.arrived.wait(30), "the first try never reached the receiver"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        receiver.release.set()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        # django-tasks-db never runs again a task its dead worker left RUNNING ...
        assert DBTaskResult.objects.filter(status="RUNNING").count() == 1
        # ... the delivery's lease runs out and the next worker's sweep queues it again.
        with worker(tmp_path, timeout=2.0):
            wait_for(lambda: _status(delivery) != "pending", timeout=60, what="a redelivery")

    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    # At least once: the receiver saw the event twice, under the one id it drops duplicates by.
    assert receiver.ids("/hook") == [str(event.id)] * 2
