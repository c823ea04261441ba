"""Django's PostgreSQL backend with ``CONN_HEALTH_CHECKS`` minus a round trip per request.

Django pings a persistent connection (``SELECT 1``) before the first query of every request;
on a busy worker that doubles the database round trips of a one-query API request. Like
HikariCP's ``aliveBypassWindowMs``, a connection used without error within the last second
is trusted without the ping. A connection that failed is still checked and closed by Django at
the end of its request, and an idle one is pinged as before, so a restarted Postgres costs at
most the requests already in flight.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.utils.asyncio import async_unsafe
from psycopg.pq import Format

HEALTH_CHECK_BYPASS_SECONDS = 1.0


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
