"""Prefix-search indexes for the admin user search (Postgres only).

``lower(username) LIKE 'abc%'`` can use a btree only with a pattern operator class when the
database collation is not C; SQLite (development) needs nothing. CONCURRENTLY keeps the
users table writable while a large production table is indexed.
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    "accounts_user_username_prefix": "lower(username) varchar_pattern_ops",
    "accounts_user_email_prefix": "lower(email) varchar_pattern_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON accounts_user ({expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("accounts", "0002_remove_user_last_login")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
