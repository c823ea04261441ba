"""Migration operations that keep a large table writable while its schema changes."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def fk_index_dropped(
    app_label: str, alter: migrations.AlterField
) -> migrations.SeparateDatabaseAndState:
    """``alter``, on a model of ``app_label``, sets ``db_index=False`` on a foreign key that a
    composite index leading with the same column already serves.

    Django's own AlterField would drop the foreign-key constraint, drop the index and add the
    constraint back, re-validating every row under a lock that blocks inserts (every sign-in,
    on the sign-in tables). Here only the index goes, ``CONCURRENTLY`` on Postgres (so the
    migration needs ``atomic = False``); reversing builds it again the same way.
    """

    def names(apps: Any, schema_editor: Any) -> tuple[str, str, str]:
        model = apps.get_model(app_label, alter.model_name)
        column = model._meta.get_field(alter.name).column
        table = model._meta.db_table
        return table, column, schema_editor._create_index_name(table, [column])

    def drop(apps: Any, schema_editor: Any) -> None:
        _, _, index = names(apps, schema_editor)
        how = _concurrently(schema_editor)
        schema_editor.execute(f"DROP INDEX{how} IF EXISTS {schema_editor.quote_name(index)}")

    def create(apps: Any, schema_editor: Any) -> None:
        table, column, index = names(apps, schema_editor)
        how, quote = _concurrently(schema_editor), schema_editor.quote_name
        schema_editor.execute(
            f"CREATE INDEX{how} IF NOT EXISTS {quote(index)} ON {quote(table)} ({quote(column)})"
        )

    return migrations.SeparateDatabaseAndState(
        state_operations=[alter],
        database_operations=[migrations.RunPython(drop, create, elidable=False)],
    )


def _concurrently(schema_editor: Any) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
