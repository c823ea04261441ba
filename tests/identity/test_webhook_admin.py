"""Webhook endpoints in the Django admin: event types as checkboxes, the secret shown once after
add and after "Rotate secret" (POST with CSRF, change permission), never again (change page,
history, messages); the endpoint's recent deliveries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from accounts.models import User
from identity import encryption
from identity.events import event_record
from identity.models import WebhookEndpoint
from identity.webhooks import services
from tests.factories import UserFactory
from tests.security.conftest import staff_with_django_perms

pytestmark = pytest.mark.django_db

ADD = "admin:identity_webhookendpoint_add"
RECEIVER = "http://127.0.0.1:9/in"


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]


@pytest.fixture
def admin(client: Client) -> User:
    user = UserFactory(superuser=True)
    client.force_login(user)
    return user


def _shown_secret(page: str) -> str:
    marker = 'id="webhook-secret" type="text" readonly size="60" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_admin_add_offers_the_catalogue_as_checkboxes(client: Client, admin: User) -> None:
    page = client.get(reverse(ADD)).content.decode()

    assert 'type="checkbox" name="event_types" value="*"' in page
    assert 'value="sign_in.failed"' in page
    assert 'value="user.created"' in page


def test_admin_add_shows_the_secret_once_and_never_again(client: Client, admin: User) -> None:
    added = client.post(
        reverse(ADD),
        {
            "url": RECEIVER,
            "description": "SIEM",
            "event_types": ["user.created", "role.assigned"],
            "is_active": "on",
        },
    )

    assert added.status_code == 200, added.content
    assert added["Cache-Control"].count("no-store")
    secret = _shown_secret(added.content.decode())
    assert secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by == admin
    assert endpoint.event_types == ["role.assigned", "user.created"]
    assert encryption.decrypt(endpoint.secret_encrypted).plaintext.decode() == secret

    change = reverse("admin:identity_webhookendpoint_change", args=[endpoint.pk])
    history = reverse("admin:identity_webhookendpoint_history", args=[endpoint.pk])
    for url in (change, history, reverse("admin:identity_webhookendpoint_changelist")):
        page = client.get(url).content.decode()
        assert secret not in page
        assert endpoint.secret_encrypted not in page
    assert all(secret not in entry.change_message for entry in LogEntry.objects.all())
    assert all(secret not in value for value in client.cookies.values())


def test_admin_refuses_an_internal_url_and_an_empty_choice(
    client: Client, admin: User, settings: object
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]

    page = client.post(
        reverse(ADD), {"url": "http://169.254.169.254/latest/", "is_active": "on"}
    ).content.decode()

    assert "is not on the public internet" in page
    assert "This field is required." in page
    assert not WebhookEndpoint.objects.exists()


def test_admin_change_and_delete_go_through_the_services(
    client: Client, admin: User, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        endpoint, _ = services.webhook_endpoint_create(url=RECEIVER, event_types=["*"])
    assert event_record("user.created", data={}).deliveries.count() == 1
    change = reverse("admin:identity_webhookendpoint_change", args=[endpoint.pk])

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        saved = client.post(change, {"url": RECEIVER, "event_types": ["user.deleted"]})
    assert saved.status_code == 302, saved.content
    endpoint.refresh_from_db()
    assert (endpoint.event_types, endpoint.is_active) == (["user.deleted"], False)
    assert event_record("user.created", data={}).deliveries.count() == 0  # the table changed

    delete = reverse("admin:identity_webhookendpoint_delete", args=[endpoint.pk])
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_rotate_secret_asks_then_rotates_on_post_and_shows_the_new_secret_once(
    client: Client, admin: User
) -> None:
    endpoint, old = services.webhook_endpoint_create(url=RECEIVER, event_types=["*"])
    change = client.get(reverse("admin:identity_webhookendpoint_change", args=[endpoint.pk]))
    rotate = reverse("admin:identity_webhookendpoint_rotate", args=[endpoint.pk])
    assert rotate in change.content.decode()

    asked = client.get(rotate)
    assert asked.status_code == 200
    assert "whsec_" not in asked.content.decode()
    endpoint.refresh_from_db()
    assert encryption.decrypt(endpoint.secret_encrypted).plaintext.decode() == old  # GET: nothing

    rotated = client.post(rotate)

    new = _shown_secret(rotated.content.decode())
    assert new.startswith("whsec_")
    assert new != old
    endpoint.refresh_from_db()
    assert encryption.decrypt(endpoint.secret_encrypted).plaintext.decode() == new
    assert "previous secret also signs" in rotated.content.decode()
    entry = LogEntry.objects.get(object_id=str(endpoint.pk))
    assert entry.change_message == "Rotated the signing secret."


def test_rotate_secret_needs_the_change_permission_and_the_csrf_token(admin: User) -> None:
    endpoint, _ = services.webhook_endpoint_create(url=RECEIVER, event_types=["*"])
    before = endpoint.secret_encrypted
    rotate = reverse("admin:identity_webhookendpoint_rotate", args=[endpoint.pk])

    viewer = Client()
    viewer.force_login(staff_with_django_perms("identity.view_webhookendpoint"))
    assert viewer.post(rotate).status_code == 403
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(admin)
    assert forged.post(rotate).status_code == 403

    endpoint.refresh_from_db()
    assert endpoint.secret_encrypted == before


def test_the_change_page_lists_recent_deliveries_and_links_to_all_of_them(
    client: Client, admin: User, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        endpoint, _ = services.webhook_endpoint_create(url=RECEIVER, event_types=["user.deleted"])
        other, _ = services.webhook_endpoint_create(url=RECEIVER, event_types=["user.created"])
    mine = event_record("user.deleted", data={}).deliveries.get()
    theirs = event_record("user.created", data={}).deliveries.get()

    page = client.get(reverse("admin:identity_webhookendpoint_change", args=[endpoint.pk]))

    text = page.content.decode()
    assert reverse("admin:identity_delivery_change", args=[mine.pk]) in text
    assert reverse("admin:identity_delivery_change", args=[theirs.pk]) not in text
    every = reverse("admin:identity_delivery_changelist") + f"?target={endpoint.pk}"
    assert every in text
    listed = client.get(every)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1
    assert str(other.pk) not in listed.content.decode()
