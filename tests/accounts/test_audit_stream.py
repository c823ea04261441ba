"""The audit stream's selector: one newest-first order over events, sign-ins, authz changes and
delivery tries, filters that reach each of them, and positions that inserts cannot disturb."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.audit import AuditFilters, audit_batches, audit_page, audit_types_match
from accounts.models import LoginEvent
from authz import services as authz_services
from authz.models import AuthzAuditEvent
from identity.events import event_record
from identity.models import Delivery, DeliveryAttempt, Event
from tests.factories import LoginEventFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(type_: str, when: datetime, **kwargs) -> Event:
    row = event_record(type_, data=kwargs.pop("data", {}), **kwargs)
    Event.objects.filter(pk=row.pk).update(occurred_at=when)
    return row


def login_event(when: datetime, **kwargs) -> LoginEvent:
    return LoginEventFactory(created_at=when, **kwargs)


def role_assigned(user, when: datetime, *, by=None) -> AuthzAuditEvent:
    authz_services.role_assign(user=user, role=RoleFactory(), granted_by=by)
    row = AuthzAuditEvent.objects.latest("pk")
    AuthzAuditEvent.objects.filter(pk=row.pk).update(created_at=when)
    return row


def delivery_try(of: Event, when: datetime, **kwargs) -> DeliveryAttempt:
    delivery = Delivery.objects.create(
        event=of, kind="webhook", target="endpoint-1", url="https://user:pw@hooks.example/x?k=s"
    )
    return DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=when, **kwargs)


def everything(filters: AuditFilters | None = None) -> list:
    page = audit_page(filters=filters or AuditFilters(), after=None, limit=1000)
    return page.entries


def ids(entries) -> list[str]:
    return [entry.id for entry in entries]


def test_audit_stream_merges_every_source_newest_first():
    alice = UserFactory()
    created = event("user.created", at(5), subject=alice)
    succeeded = login_event(at(4), user=alice)
    assigned = role_assigned(alice, at(3))
    tried = delivery_try(created, at(2), status_code=503, error="HTTP 503")
    failed = login_event(at(1), user=None, identifier="mallory", failed=True)

    entries = everything()

    assert ids(entries) == [
        str(created.id),
        f"login-{succeeded.pk}",
        f"authz-{assigned.pk}",
        f"delivery-attempt-{tried.pk}",
        f"login-{failed.pk}",
    ]
    assert [e.type for e in entries] == [
        "user.created",
        "sign_in.succeeded",
        "role.assigned",
        "delivery.attempted",
        "sign_in.failed",
    ]
    assert {e.user for e in entries[:4]} == {str(alice.public_id)}
    assert entries[1].actor == str(alice.public_id)
    assert entries[1].ip == succeeded.ip
    assert entries[4].user is None
    assert entries[4].data["identifier"] == "mallory"


def test_delivery_try_names_its_event_and_outcome_but_never_the_url():
    alice = UserFactory()
    created = event("user.created", at(1), subject=alice)
    tried = delivery_try(created, at(2), status_code=503, error="HTTP 503")

    (entry,) = everything(AuditFilters(types=frozenset({"delivery.attempted"})))

    assert entry.data == {
        "kind": "webhook",
        "target": "endpoint-1",
        "number": 1,
        "status_code": 503,
        "error": "HTTP 503",
        "finished_at": None,
        "event_id": str(created.id),
        "event_type": "user.created",
    }
    assert entry.occurred_at == tried.started_at
    assert "hooks.example" not in repr(entry)


def test_event_rows_of_types_another_table_records_are_not_repeated():
    alice = UserFactory()
    event("sign_in.succeeded", at(3), subject=alice, actor=alice)
    event("role.assigned", at(2), subject=alice)
    login = login_event(at(1), user=alice)

    assert ids(everything()) == [f"login-{login.pk}"]


def test_authz_actions_become_dotted_types():
    admin, alice = UserFactory(superuser=True), UserFactory()
    role = authz_services.role_create(name="auditors-x", actor=admin)
    authz_services.role_assign(user=alice, role=role, granted_by=admin)
    authz_services.role_unassign(user=alice, role=role, actor=admin)
    authz_services.role_delete(role=role, actor=admin)

    entries = everything()

    assert [e.type for e in entries] == [
        "role.deleted",
        "role.revoked",
        "role.assigned",
        "role.created",
    ]
    assert {e.actor for e in entries} == {str(admin.public_id)}
    assert [e.user for e in entries] == [None, str(alice.public_id), str(alice.public_id), None]


def test_type_filter_takes_exact_names_and_prefixes_across_sources():
    alice = UserFactory()
    event("user.created", at(4), subject=alice)
    event("user.deactivated", at(3), subject=alice)
    event("session.revoked", at(2), subject=alice)
    login_event(at(1), user=alice)
    login_event(at(0), user=alice, failed=True)

    def types(*names):
        wanted = frozenset().union(*(audit_types_match(n) for n in names))
        return [e.type for e in everything(AuditFilters(types=wanted))]

    assert types("user.*") == ["user.created", "user.deactivated"]
    assert types("sign_in.failed") == ["sign_in.failed"]
    assert types("sign_in.*", "session.revoked") == [
        "session.revoked",
        "sign_in.succeeded",
        "sign_in.failed",
    ]


def test_type_names_outside_the_stream_match_nothing():
    assert audit_types_match("nothing.*") == frozenset()
    assert audit_types_match("accounts_user") == frozenset()
    assert audit_types_match("user.created") == {"user.created"}


def test_user_and_actor_filters_reach_each_source():
    admin, alice, bob = UserFactory(superuser=True), UserFactory(), UserFactory()
    about_alice = event("user.updated", at(6), subject=alice, actor=admin)
    event("user.updated", at(5), subject=bob, actor=admin)
    alice_in = login_event(at(4), user=alice)
    login_event(at(3), user=bob)
    assigned = role_assigned(alice, at(2), by=admin)
    role_assigned(bob, at(1), by=admin)
    tried = delivery_try(about_alice, at(0))

    assert ids(everything(AuditFilters(user=alice.public_id))) == [
        str(about_alice.id),
        f"login-{alice_in.pk}",
        f"authz-{assigned.pk}",
        f"delivery-attempt-{tried.pk}",
    ]
    by_admin = everything(AuditFilters(actor=admin.public_id))
    assert [e.type for e in by_admin] == [
        "user.updated",
        "user.updated",
        "role.assigned",
        "role.assigned",
    ]
    assert ids(everything(AuditFilters(actor=alice.public_id))) == [f"login-{alice_in.pk}"]


def test_time_range_includes_since_and_excludes_until():
    rows = [event("user.created", at(n)) for n in range(4)]

    within = everything(AuditFilters(since=at(1), until=at(3)))

    assert ids(within) == [str(rows[2].id), str(rows[1].id)]


def test_pages_are_stable_when_rows_are_inserted_while_paging():
    alice = UserFactory()
    for n in range(3):
        event("user.updated", at(10 + n), subject=alice)
        login_event(at(10 + n), user=alice)
    before = ids(everything())
    first = audit_page(filters=AuditFilters(), after=None, limit=2)

    # Newer rows arrive, in every source, while the client reads the first page.
    event("user.updated", at(20), subject=alice)
    login_event(at(20), user=alice)
    role_assigned(alice, at(21))

    seen = ids(first.entries)
    after = first.next
    while after is not None:
        page = audit_page(filters=AuditFilters(), after=after, limit=2)
        seen += ids(page.entries)
        after = page.next
    assert seen == before  # nothing repeated, nothing skipped, same order


def test_entries_at_the_same_instant_keep_one_total_order_across_sources():
    alice = UserFactory()
    created = event("user.created", at(0), subject=alice)
    for _ in range(2):
        login_event(at(0), user=alice)
        role_assigned(alice, at(0))
        delivery_try(created, at(0))
        event("user.updated", at(0), subject=alice)
    whole = ids(everything())

    one_by_one, after = [], None
    while True:
        page = audit_page(filters=AuditFilters(), after=after, limit=1)
        one_by_one += ids(page.entries)
        if page.next is None:
            break
        after = page.next

    assert one_by_one == whole
    assert len(set(whole)) == len(whole) == 9


def test_batches_cover_the_stream_once_in_order():
    for n in range(5):
        event("user.created", at(n))
        login_event(at(n))

    batches = list(audit_batches(filters=AuditFilters(), batch=3))

    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert [e.id for b in batches for e in b] == ids(everything())


def test_a_page_costs_one_query_per_source_whatever_its_size(django_assert_num_queries):
    alice = UserFactory()
    for n in range(30):
        created = event("user.created", at(n), subject=alice)
        login_event(at(n), user=alice)
        role_assigned(alice, at(n))
        delivery_try(created, at(n))
    filters = AuditFilters(user=alice.public_id)

    for size in (1, 10, 100):
        with django_assert_num_queries(4):
            page = audit_page(filters=filters, after=None, limit=size)
        assert len(page.entries) == min(size, 120)
        with django_assert_num_queries(4):
            audit_page(filters=filters, after=page.next, limit=size)


def test_a_filter_no_source_can_answer_reads_nothing(django_assert_num_queries):
    nobody = UserFactory.build().public_id  # deliveries have no actor
    with django_assert_num_queries(0):
        entries = everything(AuditFilters(types=frozenset({"delivery.attempted"}), actor=nobody))
    assert entries == []
