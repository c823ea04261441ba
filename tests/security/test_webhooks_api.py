"""/api/v1/webhooks/: who may call it (webhooks.write, the admin OAuth scopes), what it refuses
(URLs into the portal's own network, unknown event types, setting the secret) and where the
signing secret appears (the create and rotate answers, once)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from identity import encryption
from identity.event_types import EVENT_TYPES
from identity.models import WebhookEndpoint
from identity.webhooks import services
from sso import services as sso_services
from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.security.conftest import api_as, holder_of
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db

LIST = "api:accounts:webhooks"
RECEIVER = "http://127.0.0.1:9/in"
FIELDS = {"id", "url", "description", "event_types", "is_active", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings: object) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # type: ignore[attr-defined]


@pytest.fixture
def webhooks_admin(db: None) -> User:
    """Holds webhooks.write through the seeded admin role."""
    return holder_of("admin")


def _endpoint() -> WebhookEndpoint:
    endpoint, _ = services.webhook_endpoint_create(url=RECEIVER, event_types=["user.created"])
    return endpoint


def _calls(endpoint: WebhookEndpoint) -> list[tuple[str, str, dict | None]]:
    detail = reverse("api:accounts:webhook", args=[endpoint.pk])
    rotate = reverse("api:accounts:webhook_rotate_secret", args=[endpoint.pk])
    body = {"url": RECEIVER, "event_types": ["*"]}
    return [
        ("get", reverse(LIST), None),
        ("post", reverse(LIST), body),
        ("get", detail, None),
        ("patch", detail, {"description": "taken over"}),
        ("delete", detail, None),
        ("post", rotate, None),
    ]


# -- who may call it -----------------------------------------------------------------------


def test_webhooks_api_refuses_anonymous_callers_on_every_method() -> None:
    endpoint = _endpoint()
    for method, url, body in _calls(endpoint):
        response = getattr(APIClient(), method)(url, body, format="json")
        assert_problem(response, 401, "not_authenticated")
    endpoint.refresh_from_db()
    assert endpoint.description == ""


@pytest.mark.parametrize("role", [None, "user-manager", "auditor"])
def test_webhooks_api_refuses_a_user_without_webhooks_write_on_every_method(
    role: str | None, signed_in_api: object
) -> None:
    endpoint = _endpoint()
    caller = holder_of(role) if role else UserFactory()
    api = signed_in_api(caller)  # type: ignore[operator]
    for method, url, body in _calls(endpoint):
        response = getattr(api, method)(url, body, format="json")
        body_ = assert_problem(response, 403, "permission_denied")
        assert "webhooks.write" in body_["detail"]
    assert WebhookEndpoint.objects.get().secret_encrypted == endpoint.secret_encrypted
    assert WebhookEndpoint.objects.count() == 1


def test_an_oauth_token_without_the_admin_scopes_is_refused(
    client: Client, rp: object, webhooks_admin: User, bearer_client: object
) -> None:
    endpoint = _endpoint()
    token = sign_in(client, rp, webhooks_admin, scope="openid read write")["access_token"]  # type: ignore[arg-type]
    api = bearer_client(token)  # type: ignore[operator]
    for method, url, body in _calls(endpoint):
        response = getattr(api, method)(url, body, format="json")
        assert_problem(response, 403, "insufficient_scope")
    assert WebhookEndpoint.objects.count() == 1


def test_an_oauth_token_with_the_admin_scopes_of_a_trusted_app_manages_webhooks(
    client: Client, owner: User, webhooks_admin: User, bearer_client: object
) -> None:
    trusted = register(owner)
    sso_services.application_trust_set(application=trusted.app, is_trusted=True)
    sso_services.application_update(
        application=trusted.app,
        allowed_scopes=f"{trusted.app.allowed_scopes} admin.read admin.write",
    )
    scope = "openid read write admin.read admin.write"
    api = bearer_client(sign_in(client, trusted, webhooks_admin, scope=scope)["access_token"])  # type: ignore[operator]

    created = api.post(reverse(LIST), {"url": RECEIVER, "event_types": ["*"]}, format="json")

    assert created.status_code == 201, created.content
    assert api.get(reverse(LIST)).status_code == 200


# -- what it does --------------------------------------------------------------------------


def test_create_answers_the_secret_once_and_list_and_detail_never(
    webhooks_admin: User, signed_in_api: object
) -> None:
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]

    created = api.post(
        reverse(LIST),
        {"url": RECEIVER, "description": "SIEM", "event_types": ["user.created", "*"]},
        format="json",
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == FIELDS | {"secret"}
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["event_types"] == ["*", "user.created"]
    assert body["is_active"] is True
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.created_by == webhooks_admin
    assert encryption.decrypt(endpoint.secret_encrypted).plaintext.decode() == secret

    listed = api.get(reverse(LIST))
    detail = api.get(reverse("api:accounts:webhook", args=[endpoint.pk]))
    assert [set(row) for row in listed.json()["results"]] == [FIELDS]
    assert set(detail.json()) == FIELDS
    for response in (listed, detail):
        assert secret not in response.content.decode()
        assert endpoint.secret_encrypted not in response.content.decode()


def test_patch_changes_an_endpoint_and_cannot_set_its_secret(
    webhooks_admin: User, signed_in_api: object
) -> None:
    endpoint = _endpoint()
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]
    url = reverse("api:accounts:webhook", args=[endpoint.pk])

    for field in ("secret", "secret_encrypted", "created_by", "id"):
        refused = api.patch(url, {field: "whsec_AAAA"}, format="json")
        body = assert_problem(refused, 400, "validation_error")
        assert body["errors"][0] == {
            "field": field,
            "code": "unknown_field",
            "message": "Unknown field.",
        }
    changed = api.patch(url, {"is_active": False, "event_types": ["user.deleted"]}, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json()["is_active"] is False
    assert changed.json()["event_types"] == ["user.deleted"]
    after = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert after.secret_encrypted == endpoint.secret_encrypted
    assert after.pk == endpoint.pk


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.1.2.3/hook",
        "http://localhost/hook",
        "http://[::1]:8080/hook",
        "http://127.0.0.1:6379/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
    ],
)
def test_webhook_urls_into_the_portals_own_network_are_refused(
    settings: object, webhooks_admin: User, url: str, signed_in_api: object
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False  # type: ignore[attr-defined]
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]
    endpoint = _endpoint_public_free()

    created = api.post(reverse(LIST), {"url": url, "event_types": ["*"]}, format="json")
    patched = api.patch(
        reverse("api:accounts:webhook", args=[endpoint.pk]), {"url": url}, format="json"
    )

    for response in (created, patched):
        body = assert_problem(response, 400, "webhook_url_refused")
        assert body["errors"][0]["field"] == "url"
    assert WebhookEndpoint.objects.count() == 1
    assert WebhookEndpoint.objects.get().url == endpoint.url


def _endpoint_public_free() -> WebhookEndpoint:
    """An endpoint stored as is (the address rule is what the test is about)."""
    return WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in",
        event_types=["*"],
        secret_encrypted=encryption.encrypt(b"whsec_x"),
    )


def test_unknown_event_types_are_refused_naming_the_valid_ones(
    webhooks_admin: User, signed_in_api: object
) -> None:
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]

    unknown = api.post(
        reverse(LIST), {"url": RECEIVER, "event_types": ["user.hacked"]}, format="json"
    )
    empty = api.post(reverse(LIST), {"url": RECEIVER, "event_types": []}, format="json")
    not_a_list = api.post(reverse(LIST), {"url": RECEIVER, "event_types": "*"}, format="json")

    body = assert_problem(unknown, 400, "unknown_event_type")
    assert body["errors"][0]["field"] == "event_types"
    assert all(name in body["detail"] for name in EVENT_TYPES)
    assert_problem(empty, 400, "event_types_required")
    assert_problem(not_a_list, 400, "validation_error")
    assert WebhookEndpoint.objects.count() == 0


def test_rotate_secret_answers_a_new_secret_once_and_the_old_still_signs(
    webhooks_admin: User, signed_in_api: object
) -> None:
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]
    created = api.post(reverse(LIST), {"url": RECEIVER, "event_types": ["*"]}, format="json")
    old = created.json()["secret"]

    rotated = api.post(reverse("api:accounts:webhook_rotate_secret", args=[created.json()["id"]]))

    assert rotated.status_code == 200, rotated.content
    assert set(rotated.json()) == FIELDS | {"secret"}
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    endpoint = WebhookEndpoint.objects.get(pk=created.json()["id"])
    assert encryption.decrypt(endpoint.secret_encrypted).plaintext.decode() == new
    assert encryption.decrypt(endpoint.previous_secret_encrypted).plaintext.decode() == old


def test_delete_removes_the_endpoint_and_an_unknown_id_is_not_found(
    webhooks_admin: User, signed_in_api: object
) -> None:
    endpoint = _endpoint()
    api = signed_in_api(webhooks_admin)  # type: ignore[operator]
    url = reverse("api:accounts:webhook", args=[endpoint.pk])

    assert api.delete(url).status_code == 204

    assert not WebhookEndpoint.objects.exists()
    assert_problem(api.get(url), 404, "webhook_not_found")
    missing = reverse("api:accounts:webhook_rotate_secret", args=[uuid.uuid4()])
    assert_problem(api.post(missing), 404, "webhook_not_found")
    assert_problem(api.get("/api/v1/webhooks/not-a-uuid/"), 404, "not_found")


def test_a_browser_session_needs_the_csrf_token_to_change_webhooks(
    csrf_client: Client, webhooks_admin: User
) -> None:
    csrf_client.force_login(webhooks_admin)
    body = {"url": RECEIVER, "event_types": ["*"]}

    refused = csrf_client.post(reverse(LIST), body, content_type="application/json")

    assert refused.status_code == 403
    assert WebhookEndpoint.objects.count() == 0
    assert api_as(webhooks_admin).get(reverse(LIST)).status_code == 200
