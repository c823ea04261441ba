"""Webhook endpoints: their services, the subscription table every event reads (no query when
cached), and the sender's Standard Webhooks requests (signed, cancelled once the endpoint is
gone)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
import standardwebhooks
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identity import encryption
from identity.event_types import EVENT_TYPES, OFF_BY_DEFAULT
from identity.events import event_record
from identity.models import Delivery, WebhookEndpoint
from identity.tasks import delivery_attempt
from identity.webhooks import services
from identity.webhooks.delivery import (
    WEBHOOK_KIND,
    subscriptions,
    subscriptions_changed,
    webhook_send,
)
from identity.webhooks.errors import EventTypesRequired, UnknownEventType, WebhookUrlRefused
from sso.models import backchannel_logout_uri_refusal
from tests.conftest import redis_cache_use
from tests.factories import UserFactory
from tests.identity.outbox_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def _public_urls_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """hooks.example.com resolves to a public address (the tests have no DNS)."""
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _create(capture: Callable[..., object], **kwargs: object) -> tuple[WebhookEndpoint, str]:
    fields = {"url": URL, "event_types": ["*"], **kwargs}
    with capture(execute=True):  # type: ignore[operator]
        return services.webhook_endpoint_create(**fields)  # type: ignore[arg-type]


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Independently of the portal's code: Standard Webhooks' own library."""
    standardwebhooks.Webhook(secret).verify(body, headers)


# -- services ------------------------------------------------------------------------------


def test_a_new_endpoint_gets_a_standard_secret_stored_only_encrypted(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    admin = UserFactory(superuser=True)
    endpoint, secret = _create(django_capture_on_commit_callbacks, created_by=admin)

    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert secret not in stored.secret_encrypted
    assert encryption.decrypt(stored.secret_encrypted).plaintext.decode() == secret
    assert stored.created_by == admin
    assert stored.event_types == ["*"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://127.0.0.1/hook",
        "ftp://hooks.example.com/in",
        "https://user:pass@hooks.example.com/in",
    ],
)
def test_an_endpoint_url_the_portal_will_not_call_is_refused(settings: object, url: str) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]
    with pytest.raises(WebhookUrlRefused):
        services.webhook_endpoint_create(url=url, event_types=["*"])
    assert WebhookEndpoint.objects.count() == 0


def test_plain_http_is_refused_in_production_unless_private_targets_are_allowed(
    settings: object,
) -> None:
    settings.PRODUCTION = True  # type: ignore[attr-defined]
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]
    with pytest.raises(WebhookUrlRefused, match="https"):
        services.webhook_url_check("http://hooks.example.com/in")
    assert services.webhook_url_check(" https://hooks.example.com/in ") == URL

    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    assert services.webhook_url_check("http://127.0.0.1:9000/in") == "http://127.0.0.1:9000/in"


def test_webhook_and_back_channel_urls_follow_one_rule_for_receivers(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]
    for url in ("https://8.8.8.8/in#part", "http://8.8.8.8/in", "https://10.0.0.1/in"):
        with pytest.raises(WebhookUrlRefused) as refused:
            services.webhook_url_check(url)
        assert refused.value.message == backchannel_logout_uri_refusal(url)


def test_unknown_event_types_are_refused_with_the_valid_ones_listed() -> None:
    with pytest.raises(UnknownEventType) as refused:
        services.webhook_endpoint_create(url=URL, event_types=["user.created", "user.renamed"])
    assert "'user.renamed'" in refused.value.message
    assert all(name in refused.value.message for name in EVENT_TYPES)
    with pytest.raises(EventTypesRequired):
        services.webhook_endpoint_create(url=URL, event_types=[])
    assert WebhookEndpoint.objects.count() == 0


def test_an_update_changes_the_named_fields_and_never_the_secret(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    endpoint, _ = _create(django_capture_on_commit_callbacks)
    before = endpoint.secret_encrypted

    services.webhook_endpoint_update(
        endpoint=endpoint,
        data={"event_types": ["user.deleted", "user.created", "user.created"], "is_active": False},
    )

    endpoint.refresh_from_db()
    assert endpoint.event_types == ["user.created", "user.deleted"]
    assert endpoint.is_active is False
    assert endpoint.secret_encrypted == before
    with pytest.raises(ValueError, match="not updatable"):
        services.webhook_endpoint_update(endpoint=endpoint, data={"secret_encrypted": "x"})


# -- the subscription table: what every event reads -----------------------------------------


def test_a_warm_sign_in_event_with_endpoints_costs_only_its_own_inserts(
    redis_cache: object,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    _create(django_capture_on_commit_callbacks)
    _create(django_capture_on_commit_callbacks, event_types=["user.created"])
    event_record("user.updated", data={})  # warms the table, as any earlier event did

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        event = event_record("sign_in.succeeded", data={"channel": "api"}, sid="s1")

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # The event, its one delivery (the "*" endpoint), the delivery's task: no SELECT at all.
    assert statements == ["INSERT", "INSERT", "INSERT"], queries.captured_queries
    assert event.deliveries.get().kind == WEBHOOK_KIND


def test_a_new_endpoint_is_seen_by_the_very_next_event_and_a_deactivated_one_is_not(
    redis_cache: object,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    assert event_record("user.created", data={}).deliveries.count() == 0  # table cached: empty

    endpoint, _ = _create(django_capture_on_commit_callbacks)
    first = event_record("user.created", data={})
    assert [(d.target, d.url) for d in first.deliveries.all()] == [(str(endpoint.pk), URL)]

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.webhook_endpoint_update(endpoint=endpoint, data={"is_active": False})
    assert event_record("user.created", data={}).deliveries.count() == 0

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.webhook_endpoint_update(endpoint=endpoint, data={"is_active": True})
    assert event_record("user.created", data={}).deliveries.count() == 1
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.webhook_endpoint_delete(endpoint=endpoint)
    assert event_record("user.created", data={}).deliveries.count() == 0


def test_a_change_not_yet_committed_is_not_cached_for_other_processes(
    redis_cache: object,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as pending:  # type: ignore[operator]
        services.webhook_endpoint_create(url=URL, event_types=["*"])
        # Read in the creating transaction (as another process would read it before the
        # commit, without the row): the table read now is stored under the current version.
        subscriptions()
    for callback in pending:
        callback()  # the commit's invalidation

    with CaptureQueriesContext(connection) as queries:
        assert len(subscriptions()) == 1
    assert len(queries.captured_queries) == 1  # read again, not served from the stale copy


def test_the_table_is_read_from_the_database_while_the_cache_is_down(
    settings: object, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    endpoint, _ = _create(django_capture_on_commit_callbacks)
    redis_cache_use(settings, "redis://127.0.0.1:9/0")  # nothing listens there

    event = event_record("user.created", data={})

    assert [d.target for d in event.deliveries.all()] == [str(endpoint.pk)]


def test_every_type_leaves_out_the_ones_off_by_default_unless_named(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    _create(django_capture_on_commit_callbacks, event_types=["*"])
    assert event_record("sign_in.failed", data={}) is None
    assert {"sign_in.failed"} == OFF_BY_DEFAULT

    named, _ = _create(django_capture_on_commit_callbacks, event_types=["*", "sign_in.failed"])
    failed = event_record("sign_in.failed", data={"reason": "bad_password"})
    assert [d.target for d in failed.deliveries.all()] == [str(named.pk)]


# -- the sender ----------------------------------------------------------------------------


def _one_delivery(capture: Callable[..., object], **kwargs: object) -> tuple[Delivery, str]:
    endpoint, secret = _create(capture, **kwargs)
    user, admin = UserFactory(), UserFactory()
    event = event_record(
        "user.updated", data={"changed": ["email"]}, subject=user, actor=admin, sid="sid-1"
    )
    return event.deliveries.get(target=str(endpoint.pk)), secret


def test_a_request_is_standard_webhooks_json_signed_with_the_endpoint_secret(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    delivery, secret = _one_delivery(django_capture_on_commit_callbacks)
    event = delivery.event

    request = webhook_send(delivery)

    assert request.url == URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == str(event.id)
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 5
    payload = json.loads(request.body)
    assert payload == {
        "type": "user.updated",
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "changed": ["email"],
            "subject_public_id": str(event.subject_public_id),
            "actor_public_id": str(event.actor_public_id),
            "sid": "sid-1",
            "client_id": None,
        },
    }
    _verify(secret, request.headers, request.body)
    # And by hand: v1, base64(HMAC-SHA256(key, "id.timestamp.body")).
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event.id}.{request.headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"


def test_a_tampered_body_or_timestamp_fails_verification(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    delivery, secret = _one_delivery(django_capture_on_commit_callbacks)
    request = webhook_send(delivery)

    with pytest.raises(standardwebhooks.WebhookVerificationError):
        _verify(secret, request.headers, request.body.replace(b"email", b"phone"))
    older = {
        **request.headers,
        "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 1),
    }
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        _verify(secret, older, request.body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        _verify("whsec_" + base64.b64encode(b"x" * 32).decode(), request.headers, request.body)


def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    delivery, old = _one_delivery(django_capture_on_commit_callbacks)
    endpoint = WebhookEndpoint.objects.get(pk=delivery.target)

    new = services.webhook_endpoint_secret_rotate(endpoint=endpoint)

    assert new != old
    assert new.startswith("whsec_")
    request = webhook_send(delivery)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    _verify(old, request.headers, request.body)
    _verify(new, request.headers, request.body)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    request = webhook_send(delivery)
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    _verify(new, request.headers, request.body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        _verify(old, request.headers, request.body)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("delete", "cancelled: the webhook endpoint was deleted"),
        ("deactivate", "cancelled: the webhook endpoint was deactivated"),
        ("unsubscribe", "cancelled: the webhook endpoint no longer subscribes to user.updated"),
    ],
)
def test_a_delivery_whose_endpoint_went_away_ends_failed_without_a_retry(
    settings: object,
    django_capture_on_commit_callbacks: Callable[..., object],
    change: str,
    error: str,
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    receiver = Receiver(scripts={"/in": [200]})
    with receiving(receiver) as base:
        delivery, _ = _one_delivery(django_capture_on_commit_callbacks, url=f"{base}/in")
        endpoint = WebhookEndpoint.objects.get(pk=delivery.target)
        if change == "delete":
            services.webhook_endpoint_delete(endpoint=endpoint)
        else:
            data = (
                {"is_active": False}
                if change == "deactivate"
                else {"event_types": ["user.created"]}
            )
            services.webhook_endpoint_update(endpoint=endpoint, data=data)

        assert delivery_attempt.call(delivery.pk, 0) == Delivery.Status.FAILED

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, error)
    assert delivery.next_attempt_at is None
    assert receiver.received == []


def test_a_queued_delivery_goes_to_the_endpoints_current_url(
    settings: object, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]
    receiver = Receiver(scripts={"/old": [200], "/new": [204]})
    with receiving(receiver) as base:
        delivery, secret = _one_delivery(django_capture_on_commit_callbacks, url=f"{base}/old")
        endpoint = WebhookEndpoint.objects.get(pk=delivery.target)
        services.webhook_endpoint_update(endpoint=endpoint, data={"url": f"{base}/new"})

        assert delivery_attempt.call(delivery.pk, 0) == Delivery.Status.SUCCEEDED

    [received] = receiver.received
    assert received.path == "/new"
    _verify(secret, received.headers, received.body)


def test_a_change_committed_by_another_process_is_seen_by_this_ones_next_event(
    redis_cache: object, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    endpoint, _ = _create(django_capture_on_commit_callbacks)
    assert event_record("user.created", data={}).deliveries.count() == 1  # this process holds it

    # Another process deactivates it: its row changes, then its commit bumps the shared version.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        subscriptions_changed()

    assert event_record("user.created", data={}).deliveries.count() == 0
