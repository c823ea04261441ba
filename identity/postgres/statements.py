"""SQL for the hot paths, built once per process from the models and prepared per connection.

Why: on the paths every request or sign-in takes, compiling the equivalent queryset costs more
CPU than Postgres spends answering it. The refresh grant spent about 2 ms of CPU compiling its
token lookup (three joins, two subqueries); the sign-in lookup, the lockout count and the
access-token lookup each paid more to compile than the database took to run them. Here each
statement is composed once from model metadata (column lists from ``_meta``, so a new field
needs no change), run with ``prepared_cursor`` (Postgres skips parsing and planning it), and
its rows become instances by one path (``Select.instances``: select_related's caching, the
ORM's converters, ``instance_from_row``).

Callers never see the trick: each hot path asks ``fast_path(connection)`` and otherwise runs
the ORM queryset it replaces, which is what other databases (SQLite for ``make run``) take and
what ``orm_only()`` forces, so that one test compares both on the same rows.

Templates name columns through model metadata: ``{u.email}`` is the aliased column of field
``email`` of the model with alias ``u``, and ``{u}`` is its table with that alias (FROM lists,
subqueries). Values are always parameters (``%s``), never formatted in.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from identity.postgres import instance_from_row, prepared_cursor

Tables = tuple[tuple[str, type[Model]], ...]

_orm_only: ContextVar[bool] = ContextVar("identity_postgres_orm_only", default=False)


def fast_path(connection: Any) -> bool:
    """Whether a hot path runs its prepared statement on ``connection`` (Postgres), rather
    than the ORM queryset it replaces."""
    return connection.vendor == "postgresql" and not _orm_only.get()


@contextlib.contextmanager
def orm_only() -> Iterator[None]:
    """Every hot path takes its ORM fallback inside: the reference the equivalence test
    compares the statements against."""
    token = _orm_only.set(True)
    try:
        yield
    finally:
        _orm_only.reset(token)


class _Ref:
    """``{alias}`` in a template: the quoted table with its alias; ``{alias.field}``: the
    aliased column of that field (its name or attname)."""

    def __init__(self, model: type[Model], alias: str, quote: Callable[[str], str]) -> None:
        self._model, self._alias, self._quote = model, alias, quote

    def __format__(self, spec: str) -> str:
        return f"{self._quote(self._model._meta.db_table)} {self._alias}"

    def __getattr__(self, name: str) -> str:
        return f"{self._alias}.{self._quote(self._model._meta.get_field(name).column)}"


def _compose(template: str, tables: Tables, using: str) -> str:
    quote = connections[using].ops.quote_name
    return template.format_map({alias: _Ref(model, alias, quote) for alias, model in tables})


@dataclass(frozen=True, eq=False)
class Statement:
    """One fixed SQL statement, run through ``prepared_cursor`` on the connection ``using``."""

    sql: str
    using: str

    def row(self, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row, or None."""
        with prepared_cursor(connections[self.using]) as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone()

    def rowcount(self, params: Sequence[Any]) -> int:
        """How many rows an UPDATE or DELETE changed."""
        with prepared_cursor(connections[self.using]) as cursor:
            cursor.execute(self.sql, params)
            return cursor.rowcount


@functools.cache
def sql_statement(
    template: str, *, tables: Tables = (), using: str = DEFAULT_DB_ALIAS
) -> Statement:
    """A statement of any shape (an aggregate, for instance) from a template."""
    return Statement(_compose(template, tables, using), using)


@functools.cache
def update_statement(
    model: type[Model],
    alias: str,
    *,
    columns: tuple[str, ...],
    where: str,
    tables: Tables = (),
    using: str = DEFAULT_DB_ALIAS,
) -> Statement:
    """``UPDATE <model> SET <columns> = %s, ... WHERE <where>``: run with the new values, then
    the where clause's parameters. As ``QuerySet.update()``, auto_now fields stay unset."""
    quote = connections[using].ops.quote_name
    field = model._meta.get_field
    assignments = ", ".join(f"{quote(field(name).column)} = %s" for name in columns)
    where = _compose(where, ((alias, model), *tables), using)
    table = quote(model._meta.db_table)
    return Statement(f"UPDATE {table} {alias} SET {assignments} WHERE {where}", using)  # noqa: S608


@dataclass(frozen=True, eq=False)
class _Part:
    """One model of a Select: its columns' place in the row and how it hangs off its parent."""

    model: type[Model]
    attnames: list[str]
    pk_index: int
    parent: int | None
    # select_related's setters: the parent's cache of this object, and this object's cache of
    # the parent (one-to-one relations only).
    local_setter: Callable[[Model, Model | None], None] | None
    remote_setter: Callable[[Model, Model], None] | None
    converters: tuple[tuple[int, Any, tuple[Callable, ...]], ...]


@dataclass(frozen=True, eq=False)
class Select(Statement):
    """A SELECT of every concrete column of a model and of the related models joined to it,
    then any extra expressions."""

    parts: tuple[_Part, ...] = ()
    width: int = 0  # how many leading columns the models take
    converting: bool = False  # whether any model column needs a converter

    def row(self, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row, with each model column through its field's converters (JSON, ...).
        A row built into instances twice shares its mutable values: build one row once."""
        row = super().row(params)
        if row is None or not self.converting:
            return row
        values, connection, start = list(row), connections[self.using], 0
        for part in self.parts:
            for index, col, converters in part.converters:
                for convert in converters:
                    values[start + index] = convert(values[start + index], col, connection)
            start += len(part.attnames)
        return tuple(values)

    def instances(self, row: Sequence[Any]) -> list[Any]:
        """The row's model instances in ``parts`` order, related ones attached as
        select_related attaches them; None for the missing side of a LEFT JOIN."""
        built: list[Any] = []
        start = 0
        for part in self.parts:
            values, start = row[start : start + len(part.attnames)], start + len(part.attnames)
            parent = None if part.parent is None else built[part.parent]
            if part.parent is not None and parent is None:
                built.append(None)  # under a missing object: missing too
                continue
            obj = None
            if values[part.pk_index] is not None:
                obj = instance_from_row(part.model, part.attnames, values, self.using)
            if part.local_setter is not None:
                part.local_setter(parent, obj)
                if obj is not None and part.remote_setter is not None:
                    part.remote_setter(obj, parent)
            built.append(obj)
        return built

    def extras(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The values of the ``extra`` expressions, after the models' columns."""
        return tuple(row[self.width :])


@functools.cache
def select_statement(
    model: type[Model],
    alias: str,
    *,
    where: str,
    related: tuple[tuple[str, str], ...] = (),
    extra: tuple[str, ...] = (),
    tables: Tables = (),
    tail: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> Select:
    """``SELECT <model's columns>, <related models' columns>, <extra> FROM <model> <joins>
    WHERE <where> <tail>``. ``related`` is select_related's paths with a table alias each
    (``(("user", "u"), ("user__profile", "p"))``), parents before children; forward foreign
    keys and one-to-ones, and reverse one-to-ones. ``tables`` names further models that
    ``extra`` or ``where`` refer to (subqueries)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    parts = [_part(model, alias, None, None, using)]
    aliases, joins = {"": (0, model, alias, False)}, []
    for path, child_alias in related:
        parent_path, _, name = path.rpartition("__")
        parent_index, parent_model, parent_alias, parent_outer = aliases[parent_path]
        field = parent_model._meta.get_field(name)
        child, on, outer, local, remote = _join(field, child_alias, parent_alias, quote)
        outer = outer or parent_outer
        kind = "LEFT OUTER JOIN" if outer else "INNER JOIN"
        joins.append(f" {kind} {quote(child._meta.db_table)} {child_alias} ON {on}")
        aliases[path] = (len(parts), child, child_alias, outer)
        parts.append(_part(child, child_alias, parent_index, (local, remote), using))
    refs: Tables = (*((a, m) for _, m, a, _ in aliases.values()), *tables)
    columns = [
        f"{a}.{quote(field.column)}"
        for _, m, a, _ in aliases.values()
        for field in m._meta.concrete_fields
    ]
    columns += [_compose(expression, refs, using) for expression in extra]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} {alias}"  # noqa: S608
        f"{''.join(joins)} WHERE {_compose(where, refs, using)}"
        f"{' ' + _compose(tail, refs, using) if tail else ''}"
    )
    width = sum(len(part.attnames) for part in parts)
    converting = any(part.converters for part in parts)
    return Select(sql, using, parts=tuple(parts), width=width, converting=converting)


def _join(field: Any, alias: str, parent_alias: str, quote: Callable[[str], str]) -> tuple:
    """(model, ON clause, nullable, local setter, remote setter) of a select_related step,
    with Django's own setters (SQLCompiler.get_related_selections)."""
    if field.concrete:  # forward: this row's foreign key names the other's target
        target = field.target_field
        on = f"{alias}.{quote(target.column)} = {parent_alias}.{quote(field.column)}"
        remote = field.remote_field.set_cached_value if field.unique else None
        return field.related_model, on, field.null, field.set_cached_value, remote
    if not field.one_to_one:
        raise ValueError(f"select_related cannot follow {field!r}")
    forward = field.field  # reverse one-to-one: the other row's key names this one
    on = f"{alias}.{quote(forward.column)} = {parent_alias}.{quote(forward.target_field.column)}"
    local, remote = forward.remote_field.set_cached_value, forward.set_cached_value
    return field.related_model, on, True, local, remote


def _part(
    model: type[Model], alias: str, parent: int | None, setters: tuple | None, using: str
) -> _Part:
    fields = model._meta.concrete_fields
    local, remote = setters or (None, None)
    return _Part(
        model=model,
        attnames=[field.attname for field in fields],
        pk_index=fields.index(model._meta.pk),
        parent=parent,
        local_setter=local,
        remote_setter=remote,
        converters=_converters(model, alias, using),
    )


def _converters(model: type[Model], alias: str, using: str) -> tuple[Any, ...]:
    """(index, column, converters) of the columns that need the ORM's converters (JSON
    decoding, for instance). They depend on the column and the backend only, so one thread's
    connection serves them to all."""
    connection = connections[using]
    result = []
    for index, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(alias)
        converters = (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))
        if converters:
            result.append((index, col, converters))
    return tuple(result)
