"""identity.postgres: Django's health check, skipped for a connection used in the last second.

Real Postgres, real terminated server processes: what a worker sees when Postgres restarts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import OperationalError, connection, connections, transaction

from identity.postgres.base import HEALTH_CHECK_BYPASS_SECONDS

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    pytest.skip("the backend is Postgres-only", allow_module_level=True)


@pytest.fixture
def worker_connection():
    """A persistent connection with health checks on, as a production worker holds it."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict = {**wrapper.settings_dict, "CONN_MAX_AGE": 60}
    wrapper.settings_dict["CONN_HEALTH_CHECKS"] = True
    yield wrapper
    wrapper.close()


def _request(wrapper) -> int:
    """One request: Django's request_started/finished handling around one query."""
    wrapper.close_if_unusable_or_obsolete()
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        wrapper.close_if_unusable_or_obsolete()


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_idle_connection_is_pinged_and_replaced_after_a_restart(worker_connection) -> None:
    first = _request(worker_connection)
    _terminate(first)
    worker_connection._used_at -= HEALTH_CHECK_BYPASS_SECONDS + 1  # idle past the window

    assert _request(worker_connection) != first


def test_busy_connection_skips_the_ping_and_recovers_on_the_next_request(
    worker_connection,
) -> None:
    first = _request(worker_connection)
    assert _request(worker_connection) == first  # reused, not reconnected

    _terminate(first)

    # Used a moment ago: no ping, so the request already in flight meets the dead connection...
    with pytest.raises(OperationalError):
        _request(worker_connection)
    # ...and Django's end-of-request check dropped it: the next request reconnects.
    assert _request(worker_connection) != first


def test_token_lookup_is_prepared_once_per_connection(user_factory) -> None:
    from accounts.selectors import user_get_for_access_token
    from accounts.tokens import api_session_start

    pair = api_session_start(user=user_factory(), ip=None, user_agent="")
    for _ in range(6):  # psycopg prepares a statement from its fifth run on a connection
        found, live = user_get_for_access_token(
            public_id=pair.session.user.public_id, sid=pair.session.pk
        )
        assert found == pair.session.user
        assert live

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%EXISTS (SELECT 1 FROM%"],
        )
        assert cursor.fetchone()[0] == 1


def test_prepared_statements_show_in_the_query_log(user_factory) -> None:
    from django.test.utils import CaptureQueriesContext

    from accounts.selectors import user_get_for_access_token
    from accounts.tokens import api_session_start

    pair = api_session_start(user=user_factory(), ip=None, user_agent="")
    with CaptureQueriesContext(connection) as queries:
        user_get_for_access_token(public_id=pair.session.user.public_id, sid=pair.session.pk)

    assert len(queries) == 1
    assert "EXISTS (SELECT 1 FROM" in queries[0]["sql"]
    assert pair.session.pk.hex in queries[0]["sql"].replace("-", "")


# -- timestamps parsed by psycopg's compiled loader ------------------------------------------
SAMPLES = [
    "2026-11-21 19:00:00.123456+00",
    "1999-12-31 23:59:59.999999-08",  # another offset: the same instant in UTC
    "2000-02-29 00:00:00+05:30",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _read(cursor, literals: list[str]) -> list:
    cursor.execute(
        "SELECT " + ", ".join(f"%s::timestamptz AS t{i}" for i in range(len(literals))),
        literals,
    )
    return list(cursor.fetchone())


def test_timestamps_load_as_django_loads_them() -> None:
    """Each value equals, in instant and in type, what Django's own loader makes of it."""
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    from identity.postgres.base import COMPILED_TIMESTAMPTZ, UTCTimestamptzLoader

    with connection.cursor() as cursor:
        fast = _read(cursor, SAMPLES)
        loader = connection.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT)
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor)  # Django's Python loader
        django_values = _read(cursor, SAMPLES)

    assert fast == django_values
    assert all(value.tzinfo is UTC for value in fast)
    assert [value.isoformat() for value in fast] == [v.isoformat() for v in django_values]
    if COMPILED_TIMESTAMPTZ:
        assert loader is UTCTimestamptzLoader


def test_a_session_in_another_time_zone_still_reads_utc() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'America/New_York'")
        try:
            values = _read(cursor, SAMPLES[:3])
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert all(value.tzinfo is UTC for value in values)
    assert values[1] == datetime(2000, 1, 1, 7, 59, 59, 999999, tzinfo=UTC)


def test_model_timestamps_round_trip(user_factory) -> None:
    moment = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    user = user_factory()
    type(user).objects.filter(pk=user.pk).update(date_joined=moment)
    user.refresh_from_db()
    assert user.date_joined == moment
    assert user.date_joined.tzinfo is UTC


def test_instance_from_row_runs_init_signals_when_they_listen(user_factory) -> None:
    """With an init receiver connected, rows are built through Model.__init__ as the ORM does."""
    from django.db.models.signals import post_init

    from accounts.models import User
    from identity.postgres import instance_from_row

    user = user_factory()
    attnames = [field.attname for field in User._meta.concrete_fields]
    values = [getattr(user, name) for name in attnames]
    seen = []

    def receiver(sender, instance, **kwargs) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=User)
    try:
        built = instance_from_row(User, attnames, values, "default")
    finally:
        post_init.disconnect(receiver, sender=User)
    quiet = instance_from_row(User, attnames, values, "default")
    assert seen == [built]
    assert quiet.username == built.username == user.username
    assert quiet._state.adding is built._state.adding is False


# Zero makes a parallel plan look free to the planner.
PARALLEL_COSTS = (
    "parallel_setup_cost",
    "parallel_tuple_cost",
    "min_parallel_table_scan_size",
    "min_parallel_index_scan_size",
)


def test_a_request_query_never_forks_parallel_workers():
    """A misestimated prefix search on a large users table made the planner fork two workers
    for ten rows (7 ms instead of 0.3 ms). Even with parallel plans made to look free, the
    portal's connections plan the admin user search serially (DB_PARALLEL_WORKERS=0)."""
    from accounts.selectors import user_list
    from tests.factories import UserFactory

    UserFactory.create_batch(3)
    with transaction.atomic(), connection.cursor() as cursor:
        for knob in PARALLEL_COSTS:
            cursor.execute(f"SET LOCAL {knob} = 0")
        plan = user_list(search="user").explain()
        cursor.execute("SHOW max_parallel_workers_per_gather")
        workers = cursor.fetchone()[0]
    assert workers == "0"
    assert "Gather" not in plan
    assert "Parallel" not in plan
