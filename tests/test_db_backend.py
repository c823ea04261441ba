"""identity.postgres: Django's health check, skipped for a connection used in the last second.

Real Postgres, real terminated server processes: what a worker sees when Postgres restarts.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection, connections

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
