"""A webhook endpoint on loopback, subscribed to every type, down for its first tries: the real
worker (`manage.py db_worker`) gets each event to it exactly once after its downtime, each
request signed so that Standard Webhooks' own library verifies it, and a tampered one does not."""

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
from identity.events import event_record
from identity.models import Delivery, DeliveryAttempt, WebhookEndpoint
from identity.webhooks import services
from identity.webhooks.delivery import WEBHOOK_KIND
from tests.factories import UserFactory
from tests.identity.outbox_receiver import Receiver, free_port, receiving, wait_for, worker

pytestmark = pytest.mark.django_db(transaction=True)


def _independent_hmac_verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The header checked without the portal's code or the library: v1,base64(HMAC-SHA256)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig) for sig in headers["webhook-signature"].split())


def test_every_event_reaches_an_endpoint_once_after_its_downtime_signed(
    settings: object, tmp_path: Path
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    port = free_port()
    endpoint, secret = services.webhook_endpoint_create(
        url=f"http://127.0.0.1:{port}/hooks", event_types=["*", "sign_in.failed"]
    )
    subject, actor = UserFactory(), UserFactory()
    events = [
        event_record(name, data={"n": i}, subject=subject, actor=actor, sid=f"sid-{i}")
        for i, name in enumerate(sorted(EVENT_TYPES))
    ]
    deliveries = Delivery.objects.filter(kind=WEBHOOK_KIND, target=str(endpoint.pk))
    assert deliveries.count() == len(EVENT_TYPES)
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
        assert payload["data"]["subject_public_id"] == str(subject.public_id)
        assert payload["data"]["actor_public_id"] == str(actor.public_id)
    by_id = {r.event_id: json.loads(r.body) for r in receiver.received if r.answered == 200}
    assert {by_id[str(e.id)]["type"] for e in events} == set(EVENT_TYPES)

    tampered = receiver.received[-1]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        webhook.verify(tampered.body.replace(b'"n":', b'"m":'), tampered.headers)
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
