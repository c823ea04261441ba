"""A webhook endpoint on loopback, subscribed to every type, down for its first tries: every
event type, each caused by the real action (tests/identity/event_triggers.py: pages, API,
admin, services), reaches it exactly once after its downtime through the real worker
(`manage.py db_worker`), each request signed so that Standard Webhooks' own library verifies it,
and a tampered one does not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from pathlib import Path

import pytest
import standardwebhooks

from identity.event_types import EVENT_TYPES
from identity.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from identity.webhooks import services
from identity.webhooks.delivery import WEBHOOK_KIND
from tests.identity.event_triggers import TRIGGERS, TriggerContext
from tests.identity.outbox_receiver import Receiver, free_port, receiving, wait_for, worker

pytestmark = pytest.mark.django_db(transaction=True)


def _independent_hmac_verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The header checked without the portal's code or the library: v1,base64(HMAC-SHA256)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig) for sig in headers["webhook-signature"].split())


def _id(user: object) -> str | None:
    public_id = getattr(user, "public_id", None)
    return str(public_id) if public_id else None


def test_every_event_reaches_an_endpoint_once_after_its_downtime_signed(
    settings: object, tmp_path: Path
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    port = free_port()
    endpoint, secret = services.webhook_endpoint_create(
        url=f"http://127.0.0.1:{port}/hooks", event_types=["*", "sign_in.failed"]
    )
    context = TriggerContext()
    expected = {name: TRIGGERS[name](context) for name in sorted(EVENT_TYPES)}
    events = list(Event.objects.all())
    # Each action wrote its one event; the lockout's last failure is a failed sign-in too.
    assert Counter(e.type for e in events) == Counter([*EVENT_TYPES, "sign_in.failed"])
    deliveries = Delivery.objects.filter(kind=WEBHOOK_KIND, target=str(endpoint.pk))
    assert sorted(deliveries.values_list("event_id", flat=True)) == sorted(e.id for e in events)
    # Down at first (connection refused), then a 503, then up.
    receiver = Receiver(scripts={"/hooks": [503, 200]})

    # Enough retries a second apart that none gives up while the receiver is down.
    with worker(tmp_path, retries=20):
        wait_for(
            lambda: (
                DeliveryAttempt.objects.filter(finished_at__isnull=False)
                .values("delivery")
                .distinct()
                .count()
                == len(events)
            ),
            what="a first try of every delivery",
        )
        with receiving(receiver, port=port):
            wait_for(
                lambda: not deliveries.filter(status=Delivery.Status.PENDING).exists(),
                timeout=60,
                what="every delivery to end",
            )

    ended = {d.pk: (d.status, list(d.tries.values_list("error", flat=True))) for d in deliveries}
    assert {status for status, _ in ended.values()} == {Delivery.Status.SUCCEEDED}, ended
    assert all(d.attempts > 1 for d in deliveries)
    first_tries = DeliveryAttempt.objects.filter(delivery__in=deliveries, number=1)
    assert set(first_tries.values_list("error", flat=True)) == {"connection: ConnectError"}
    assert DeliveryAttempt.objects.filter(status_code=503).count() == 1

    accepted = Counter(r.event_id for r in receiver.received if r.answered == 200)
    assert accepted == Counter({str(event.id): 1 for event in events})  # exactly once each
    webhook = standardwebhooks.Webhook(secret)
    for received in receiver.received:
        payload = webhook.verify(received.body, received.headers)
        assert _independent_hmac_verifies(secret, received.headers, received.body)
        assert received.headers["content-type"] == "application/json"
        if payload["type"] != "sign_in.failed":  # the lockout's failure is about its own user
            wanted = expected[payload["type"]]
            assert payload["data"]["subject_public_id"] == _id(wanted.subject), payload
            assert payload["data"]["actor_public_id"] == _id(wanted.actor), payload
            assert payload["data"]["sid"] == (wanted.sid or None), payload
    by_id = {r.event_id: json.loads(r.body) for r in receiver.received if r.answered == 200}
    assert Counter(by_id[str(e.id)]["type"] for e in events) == Counter(e.type for e in events)
    bodies = b"".join(r.body for r in receiver.received).decode()
    assert [s for s in context.secrets if s and s in bodies] == []

    tampered = receiver.received[-1]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        webhook.verify(tampered.body.replace(b'"type":', b'"typo":'), tampered.headers)
    later = str(int(tampered.headers["webhook-timestamp"]) + 1)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        webhook.verify(tampered.body, {**tampered.headers, "webhook-timestamp": later})
    assert not _independent_hmac_verifies(
        secret, {**tampered.headers, "webhook-timestamp": later}, tampered.body
    )
    assert WebhookEndpoint.objects.get().is_active
    logged = (tmp_path / "worker.log").read_text()
    assert "kind=webhook" in logged  # the worker logged each try
    assert secret not in logged
    assert tampered.headers["webhook-signature"] not in logged
