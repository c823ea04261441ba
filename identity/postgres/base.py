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

from django.db.backends.postgresql import base

HEALTH_CHECK_BYPASS_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
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

    def close(self) -> None:
        self._used_at = float("-inf")
        super().close()
