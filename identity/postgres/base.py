"""Django's PostgreSQL backend with ``CONN_HEALTH_CHECKS`` minus a round trip per request.

Django pings a persistent connection (``SELECT 1``) before the first query of every request;
on a busy worker that doubles the database round trips of a one-query API request. Like
HikariCP's ``aliveBypassWindowMs``, a connection used without error within the last second
is trusted without the ping. A connection that failed is still checked and closed by Django at
the end of its request, and an idle one is pinged as before, so a restarted Postgres costs at
most the requests already in flight.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.utils.asyncio import async_unsafe
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format

HEALTH_CHECK_BYPASS_SECONDS = 1.0


# psycopg's compiled timestamptz parser, where the binary package provides one.
_C_TIMESTAMPTZ = psycopg.postgres.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)
COMPILED_TIMESTAMPTZ = psycopg.pq.__impl__ in ("c", "binary")


class UTCTimestamptzLoader(Loader):
    """Django's UTC timestamptz loader, parsed by psycopg's compiled loader.

    Django registers a subclass of psycopg's pure-Python loader on every connection (it sets
    the result's tzinfo to the connection's time zone); parsing each timestamp in Python costs
    several microseconds, which a page of sign-in history or a token row pays dozens of times.
    The compiled loader gives the same aware datetime in UTC (Django sets the session's
    TimeZone to UTC); a value in any other zone is converted, so the result never differs.
    ``timezone`` is what Django's cursor checks compare against.
    """

    timezone = UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._parse = _C_TIMESTAMPTZ(oid, context).load

    def load(self, data: Any) -> datetime:
        value = self._parse(data)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


@functools.cache
def _utc_adapters(template: AdaptersMap) -> AdaptersMap:
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", UTCTimestamptzLoader)
    return adapters


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """Django reads the SQL a client-side-binding cursor sent; a prepared_cursor sends
        ``$1`` placeholders, so its statement is composed from its parameters instead, and
        query logs and captures show the values too."""
        if params and not isinstance(cursor, base.Database.ClientCursor):
            try:
                return self.compose_sql(sql, params)
            except base.Database.DataError:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _used_at = float("-inf")

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if COMPILED_TIMESTAMPTZ and self.timezone is UTC and "context" in params:
            params["context"] = _utc_adapters(params["context"])
        return params

    def close_if_health_check_failed(self) -> None:
        now = time.monotonic()
        recently_used, self._used_at = now - self._used_at < HEALTH_CHECK_BYPASS_SECONDS, now
        if (
            recently_used
            and self.connection is not None
            and not self.errors_occurred
            and not self.health_check_done
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    @async_unsafe
    def prepared_cursor(self) -> Any:
        """A cursor that binds parameters on the server, so psycopg prepares a statement this
        connection runs often (``prepare_threshold``, 5 by default) and Postgres skips parsing
        and planning it. For the hot one-row lookups of every request; the ORM keeps Django's
        client-side binding, which every query shape supports."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = base.ServerBindingCursor(self.connection)
            tzloader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != tzloader.timezone:
                register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)

    def close(self) -> None:
        self._used_at = float("-inf")
        super().close()
