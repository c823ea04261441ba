"""The deliveries in the admin: read-only, each one's tries, and "Retry now" for staff who may
change deliveries (and only for them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission as DjangoPermission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from identity.events import DeliveryTarget, event_record
from identity.models import Delivery, DeliveryAttempt
from tests.factories import UserFactory
from tests.identity.outbox_receiver import TEST_KIND

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:identity_delivery_changelist"


def _gave_up() -> Delivery:
    target = DeliveryTarget(kind=TEST_KIND, target="endpoint-7", url="https://hooks.example/in")
    delivery = event_record("user.created", data={}, deliveries=[target]).deliveries.get()
    DBTaskResult.objects.all().delete()
    now = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=now,
        finished_at=now,
        status_code=503,
        error="HTTP 503",
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.GAVE_UP,
        attempts=1,
        last_error="HTTP 503",
        last_status_code=503,
        next_attempt_at=None,
        finished_at=now,
    )
    return delivery


def _staff(*codenames: str) -> User:
    staff = UserFactory(staff=True)
    for codename in codenames:
        staff.user_permissions.add(DjangoPermission.objects.get(codename=codename))
    return User.objects.get(pk=staff.pk)


def _retry(client: Client, delivery: Delivery) -> None:
    client.post(reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [delivery.pk]})


def test_the_list_and_a_delivery_show_its_status_tries_and_last_error(client: Client) -> None:
    delivery = _gave_up()
    client.force_login(_staff("view_delivery"))

    listing = client.get(reverse(CHANGELIST)).content.decode()
    page = client.get(reverse("admin:identity_delivery_change", args=[delivery.pk]))

    assert "hooks.example" in listing
    assert "HTTP 503" in listing
    assert "gave up" in listing
    assert page.status_code == 200
    assert "Save" not in page.content.decode()  # read-only
    assert "endpoint-7" in page.content.decode()


def test_retry_now_queues_a_try_and_is_logged_for_staff_who_may_change_deliveries(
    client: Client,
) -> None:
    delivery = _gave_up()
    staff = _staff("view_delivery", "change_delivery")
    client.force_login(staff)

    assert "retry_now" in client.get(reverse(CHANGELIST)).content.decode()
    _retry(client, delivery)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.finished_at is None
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=1)
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [delivery.pk, 1]
    entry = LogEntry.objects.get(object_id=str(delivery.pk))
    assert entry.user_id == staff.pk
    assert "Retried now" in entry.get_change_message()


def test_retry_now_is_neither_offered_nor_done_for_staff_who_may_only_view(
    client: Client,
) -> None:
    delivery = _gave_up()
    client.force_login(_staff("view_delivery"))

    listing = client.get(reverse(CHANGELIST)).content.decode()
    _retry(client, delivery)

    assert "retry_now" not in listing
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.GAVE_UP
    assert not DBTaskResult.objects.exists()
    assert not LogEntry.objects.exists()


def test_deliveries_are_hidden_from_staff_without_a_delivery_permission(client: Client) -> None:
    _gave_up()
    client.force_login(_staff())

    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_a_delivery_that_succeeded_is_not_sent_again_by_retry_now(admin_client: Client) -> None:
    delivery = _gave_up()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SUCCEEDED)

    _retry(admin_client, delivery)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize(
    ("query", "found"),
    [("endpoint-7", True), ("hooks.example", True), ("event", True), ("not-a-uuid", False)],
)
def test_deliveries_are_searched_by_receiver_url_or_event_id(
    admin_client: Client, query: str, found: bool
) -> None:
    delivery = _gave_up()
    if query == "event":
        query = str(delivery.event_id)

    response = admin_client.get(reverse(CHANGELIST), {"q": query})

    assert response.status_code == 200
    shown = [row.pk for row in response.context["cl"].result_list]
    assert shown == ([delivery.pk] if found else [])
