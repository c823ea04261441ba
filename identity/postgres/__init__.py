"""Django's PostgreSQL backend (psycopg 3), with health checks that skip busy connections;
and the helpers hot paths use on any backend."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, signals
from django.db.models.base import ModelState


def prepared_cursor(connection: Any) -> Any:
    """A cursor whose fixed statement Postgres plans once per connection: the backend's
    ``prepared_cursor`` under identity.postgres, a plain cursor on any other backend."""
    return getattr(connection, "prepared_cursor", connection.cursor)()


def rows_insert(*instances: Model) -> None:
    """``save(force_insert=True)`` of each instance, for the rows every sign-in writes
    (LoginEvent, UserSession, the browser's session), in one INSERT statement built once per
    combination of models: atomic by itself (data-modifying CTEs), one round trip and one
    commit. The ORM compiled the same statements on every sign-in, at more CPU than Postgres
    spends running them. Values go through each field's own pre_save and database preparation,
    as save() sends them. Models with save signal receivers, and databases other than
    Postgres, take save(), in one transaction."""
    models = tuple(type(instance) for instance in instances)
    alias = router.db_for_write(models[0], instance=instances[0])
    connection = connections[alias]
    hooked = any(
        signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)
        for model in models
    )
    if connection.vendor != "postgresql" or hooked:
        with transaction.atomic(using=alias):
            for instance in instances:
                instance.save(force_insert=True, using=alias)
        return
    sql, field_lists = _insert_statement(models, alias)
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for instance, fields in zip(instances, field_lists, strict=True)
        for field in fields
    ]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchone()
    for instance, key in zip(instances, keys, strict=True):
        instance_saved(instance, key, alias)


def instance_saved(instance: Model, pk: Any, alias: str) -> None:
    """What ``save()`` leaves on an instance our own INSERT wrote: its key, and a saved state
    (a later save() updates the row rather than inserting it again)."""
    instance.pk = pk
    instance._state.adding, instance._state.db = False, alias


@functools.cache
def _insert_statement(models: tuple[type[Model], ...], alias: str) -> tuple[str, list[tuple]]:
    quote = connections[alias].ops.quote_name
    inserts, field_lists = [], []
    for model in models:
        pk = model._meta.pk
        # An identity primary key is left to Postgres; any other goes in with the row.
        fields = tuple(f for f in model._meta.concrete_fields if not (f is pk and pk.db_returning))
        columns = ", ".join(quote(field.column) for field in fields)
        values = ", ".join(["%s"] * len(fields))
        inserts.append(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns})"  # noqa: S608 - metadata
            f" VALUES ({values}) RETURNING {quote(pk.column)}"
        )
        field_lists.append(fields)
    if len(inserts) == 1:
        return inserts[0], field_lists
    ctes = ", ".join(f"row{n} AS ({insert})" for n, insert in enumerate(inserts))
    keys = ", ".join(f"(SELECT * FROM row{n})" for n in range(len(inserts)))  # noqa: S608
    return f"WITH {ctes} SELECT {keys}", field_lists


def instance_from_row(model: type[Model], attnames: list[str], values: Any, alias: str) -> Any:
    """``model.from_db(alias, attnames, values)`` for a full row, without ``Model.__init__``'s
    field-by-field loop and its two signal sends (about 15 µs a model), when no init signal
    listens. The values must not be shared with another instance (a row read once, or
    immutable values)."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model.from_db(alias, attnames, values)
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    return instance
