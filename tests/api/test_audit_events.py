"""GET /api/v1/audit/events/: the audit stream's page shape, filters, cursor and JSON Lines
export, and its price in queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.api.views import audit as audit_api
from authz import services as authz_services
from authz.models import Role
from identity.events import DeliveryTarget, event_record
from identity.models import Event
from identity.tasks import delivery_attempt
from tests.api.conftest import assert_problem
from tests.factories import LoginEventFactory, UserFactory
from tests.identity.outbox_receiver import TEST_KIND, Receiver, receiving

pytestmark = pytest.mark.django_db

URL = reverse("api:accounts:audit_events")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Only the rows a test makes (signing in to call the API writes a sign-in of its own).
UNTIL = {"until": "2026-03-02T00:00:00Z"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(type_: str, when: datetime, **kwargs) -> Event:
    row = event_record(type_, data=kwargs.pop("data", {}), **kwargs)
    Event.objects.filter(pk=row.pk).update(occurred_at=when)
    return row


@pytest.fixture
def auditor(db):
    user = UserFactory()
    authz_services.role_assign(user=user, role=Role.objects.get(name="auditor"), granted_by=None)
    return user


@pytest.fixture
def auditor_api(auditor, signed_in_api):
    return signed_in_api(auditor)


def test_entries_have_the_documented_shape(auditor_api):
    alice = UserFactory()
    created = event("user.created", at(1), subject=alice, sid="s-1", client_id="c-1")
    login = LoginEventFactory(created_at=at(0), user=alice, ip="203.0.113.9")

    response = auditor_api.get(URL, UNTIL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    assert body["results"][0] == {
        "id": str(created.id),
        "type": "user.created",
        "occurred_at": "2026-03-01T12:00:01Z",
        "actor": None,
        "user": str(alice.public_id),
        "sid": "s-1",
        "client_id": "c-1",
        "ip": None,
        "data": {},
    }
    second = body["results"][1]
    assert second["id"] == f"login-{login.pk}"
    assert second["type"] == "sign_in.succeeded"
    assert second["ip"] == "203.0.113.9"
    assert second["data"]["channel"] == "browser"


def test_next_link_walks_the_stream_and_keeps_the_filters(auditor_api):
    rows = [event("user.updated", at(n)) for n in range(5)]
    event("session.revoked", at(10))

    seen, url, params = [], URL, {"type": "user.*", "page_size": 2, **UNTIL}
    while url:
        body = auditor_api.get(url, params).json()
        seen += [entry["id"] for entry in body["results"]]
        url, params = body["next"], None

    assert seen == [str(row.id) for row in reversed(rows)]


def test_page_size_is_bounded_like_the_other_lists(auditor_api):
    for n in range(105):
        event("user.updated", at(n))

    body = auditor_api.get(URL, {"page_size": 1000, **UNTIL}).json()

    assert len(body["results"]) == 100
    assert body["next"]
    assert len(auditor_api.get(URL, UNTIL).json()["results"]) == 20


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"type": "nothing.happened"}, "type", "unknown_event_type"),
        ({"type": "user.created,accounts_user"}, "type", "unknown_event_type"),
        ({"type": "*"}, "type", "unknown_event_type"),
        ({"type": ""}, "type", "unknown_event_type"),
        ({"cursor": "garbage"}, "cursor", "invalid_cursor"),
        ({"user": "42"}, "user", "invalid"),
        ({"user": ""}, "user", "blank"),
        ({"cursor": ""}, "cursor", "blank"),
        ({"actor": "' OR 1=1 --"}, "actor", "invalid"),
        ({"since": "yesterday"}, "since", "invalid"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until", "invalid"),
        ({"page_size": "0"}, "page_size", "min_value"),
        ({"page_size": "many"}, "page_size", "invalid"),
        ({"format": "csv"}, "format", "invalid"),
    ],
)
def test_bad_filters_are_a_400_problem_naming_the_field(auditor_api, params, field, code):
    response = auditor_api.get(URL, params)

    body = response.json()
    assert response.status_code == 400, body
    assert response["Content-Type"].startswith("application/problem+json")
    assert body["code"] in {code, "validation_error"}
    assert [(error["field"], error["code"]) for error in body["errors"]] == [(field, code)]


def test_forged_cursor_is_refused(auditor_api):
    event("user.updated", at(0))
    unsigned = signing.dumps(["2026-03-01T12:00:00Z", 3, "not-a-uuid"], salt="another")
    wrong_shape = signing.dumps({"a": 1}, salt=audit_api._CURSOR_SALT)
    bad_key = signing.dumps(["2026-03-01T12:00:00Z", 3, "not-a-uuid"], salt=audit_api._CURSOR_SALT)
    naive = signing.dumps(["2026-03-01T12:00:00", 2, "1"], salt=audit_api._CURSOR_SALT)
    no_rank = signing.dumps(["2026-03-01T12:00:00Z", 9, "1"], salt=audit_api._CURSOR_SALT)

    for cursor in (unsigned, wrong_shape, bad_key, naive, no_rank):
        assert_problem(auditor_api.get(URL, {"cursor": cursor}), 400, "invalid_cursor")


def test_jsonl_export_streams_the_whole_filtered_stream(auditor_api):
    alice = UserFactory()
    rows = [event("user.updated", at(n), subject=alice) for n in range(3)]
    event("user.updated", at(5))  # someone else

    response = auditor_api.get(URL, {"format": "jsonl", "user": str(alice.public_id), **UNTIL})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["id"] for e in entries] == [str(row.id) for row in reversed(rows)]
    assert entries[0]["occurred_at"] == "2026-03-01T12:00:02Z"


def test_jsonl_is_also_chosen_by_the_accept_header(auditor_api):
    event("user.updated", at(0))

    response = auditor_api.get(URL, UNTIL, HTTP_ACCEPT="application/x-ndjson")

    assert response["Content-Type"] == "application/x-ndjson"
    assert len(b"".join(response.streaming_content).splitlines()) == 1


def test_export_reads_one_batch_at_a_time(auditor_api, monkeypatch):
    monkeypatch.setattr(audit_api, "EXPORT_BATCH", 2)
    for n in range(5):
        event("user.updated", at(n))
    response = auditor_api.get(URL, {"format": "jsonl", "type": "user.*", **UNTIL})
    chunks = iter(response.streaming_content)

    with CaptureQueriesContext(connection) as first:
        assert len(next(chunks).splitlines()) == 2
    with CaptureQueriesContext(connection) as rest:
        assert sum(len(chunk.splitlines()) for chunk in chunks) == 3

    assert len(first) == 1  # the events table alone: the filter names no other source
    assert len(rest) == 2


def test_export_refusals_are_problems_not_lines(auditor_api, api):
    assert_problem(api.get(URL, {"format": "jsonl"}), 401, "not_authenticated")
    assert_problem(
        auditor_api.get(URL, {"format": "jsonl", "type": "bogus"}), 400, "unknown_event_type"
    )


def test_a_page_costs_the_same_queries_whatever_its_size(auditor, signed_in_api):
    api = signed_in_api(auditor)
    alice = UserFactory()
    for n in range(30):
        event("user.updated", at(n), subject=alice)
        LoginEventFactory(created_at=at(n), user=alice)
    api.get(URL)  # warm the caches the authentication uses

    counts = []
    for size in (1, 50):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(URL, {"page_size": size, **UNTIL}).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert counts[0] <= 4 + 1  # a query per source, and the access token's sign-in


def test_the_schema_names_the_page_and_the_refusal_codes(api):
    schema = api.get(reverse("api_schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/audit/events/"]["get"]

    content = operation["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["$ref"].endswith("/AuditEventPageOutput")
    assert "application/x-ndjson" in content
    codes = json.dumps(schema["components"]["schemas"])
    assert "unknown_event_type" in codes
    assert "invalid_cursor" in codes
    parameters = {p["name"] for p in operation["parameters"]}
    assert {
        "type",
        "user",
        "actor",
        "since",
        "until",
        "cursor",
        "page_size",
        "format",
    } <= parameters


def test_each_try_of_a_delivery_is_in_the_stream_with_its_outcome(auditor_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.OUTBOX_BACKOFF_SECONDS = [0, 0, 0]
    alice = UserFactory()
    path = "/hook?token=receiver-secret"  # a receiver's URL may carry its own credentials
    receiver = Receiver(scripts={path: [503, 200]})
    with receiving(receiver) as url:
        target = DeliveryTarget(kind=TEST_KIND, target="endpoint-7", url=f"{url}{path}")
        created = event_record("user.created", data={}, subject=alice, deliveries=[target])
        delivery = created.deliveries.get()
        delivery_attempt.call(delivery.pk, 0)
        delivery_attempt.call(delivery.pk, 1)

    response = auditor_api.get(URL, {"type": "delivery.attempted", "user": str(alice.public_id)})

    tries = response.json()["results"]
    assert [(t["data"]["number"], t["data"]["status_code"]) for t in tries] == [(2, 200), (1, 503)]
    assert {t["data"]["event_id"] for t in tries} == {str(created.id)}
    assert {t["data"]["target"] for t in tries} == {"endpoint-7"}
    assert tries[1]["data"]["error"] == "HTTP 503"
    assert "receiver-secret" not in response.content.decode()
