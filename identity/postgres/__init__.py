"""Django's PostgreSQL backend (psycopg 3), with health checks that skip busy connections."""

from __future__ import annotations

from typing import Any


def prepared_cursor(connection: Any) -> Any:
    """A cursor whose fixed statement Postgres plans once per connection: the backend's
    ``prepared_cursor`` under identity.postgres, a plain cursor on any other backend."""
    return getattr(connection, "prepared_cursor", connection.cursor)()
