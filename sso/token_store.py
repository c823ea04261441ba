"""Token rows on the token endpoint's hot paths, in SQL built once per process.

Through the ORM the refresh grant spent about 2 ms of CPU compiling its lookup (three joins,
two subqueries) and 2 more on five model saves between BEGIN and COMMIT. Here the lookup is
one SELECT and, on Postgres, the rotation one statement of data-modifying CTEs: atomic by
itself, so no transaction round trips, and it inserts nothing unless it revoked the presented
token first. Values go through each field's own pre_save and database preparation, so tokens
are stored as DOT stores them (blank ``token``, SHA-256 ``token_checksum``: RFC 9700 token
storage); column lists come from the models, so a new field needs no change here. On other
databases (SQLite for ``make run``) the writes take the ORM path.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, Model
from oauth2_provider.models import (
    get_access_token_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.models import Profile, User, UserSession
from identity.postgres import instance_from_row, prepared_cursor
from sso.models import Application, SignIn

AccessToken = get_access_token_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()

# The models a refresh-token lookup returns, in SELECT order, with their table aliases.
_LOADED: tuple[tuple[type[Model], str], ...] = (
    (RefreshToken, "rt"),
    (AccessToken, "at"),
    (User, "u"),
    (Profile, "p"),
    (Application, "app"),
)


# -- refresh-token lookup -------------------------------------------------------------------
def refresh_token_load(*, checksum: str, now: datetime) -> Any:
    """The refresh token with its access token, user, profile and application attached (the
    token endpoint authenticates the client from this row: no separate client lookup), and
    two flags: ``sso_session_live`` (its UserSession is neither revoked nor expired) and
    ``sso_auth_time`` (of its sign-in). None when no token has this checksum."""
    alias = router.db_for_read(RefreshToken)
    connection = connections[alias]
    expires_at = UserSession._meta.get_field("expires_at").get_db_prep_value(now, connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(_load_sql(alias), [expires_at, checksum])
        row = cursor.fetchone()
    if row is None:
        return None
    start, instances = 0, []
    for model, table_alias in _LOADED:
        end = start + len(model._meta.concrete_fields)
        instances.append(_instance(model, table_alias, list(row[start:end]), connection))
        start = end
    refresh, access, user, profile, application = instances
    RefreshToken._meta.get_field("access_token").set_cached_value(refresh, access)
    RefreshToken._meta.get_field("user").set_cached_value(refresh, user)
    RefreshToken._meta.get_field("application").set_cached_value(refresh, application)
    Profile._meta.get_field("user").remote_field.set_cached_value(user, profile)
    refresh.sso_session_live = bool(row[start])
    refresh.sso_auth_time = _auth_time(row[start + 1], connection)
    return refresh


@functools.cache
def _load_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(
        f"{table_alias}.{quote(field.column)}"
        for model, table_alias in _LOADED
        for field in model._meta.concrete_fields
    )
    table = {model: quote(model._meta.db_table) for model, _ in _LOADED}
    sessions, sign_ins = (quote(m._meta.db_table) for m in (UserSession, SignIn))
    # Identifiers come from model metadata; values are parameters.
    return (
        f"SELECT {columns},"  # noqa: S608
        f" EXISTS (SELECT 1 FROM {sessions} s WHERE s.id = rt.token_family"
        " AND s.revoked_at IS NULL AND s.expires_at > %s),"
        f" (SELECT si.auth_time FROM {sign_ins} si WHERE si.id = rt.token_family)"
        f" FROM {table[RefreshToken]} rt"
        f" INNER JOIN {table[User]} u ON u.id = rt.user_id"
        f" INNER JOIN {table[Application]} app ON app.id = rt.application_id"
        f" LEFT OUTER JOIN {table[Profile]} p ON p.user_id = u.id"
        f" LEFT OUTER JOIN {table[AccessToken]} at ON at.id = rt.access_token_id"
        # A revoked row may share the checksum of a live one (DOT #1816): the live one wins.
        " WHERE rt.token_checksum = %s ORDER BY rt.revoked DESC NULLS FIRST LIMIT 1"
    )


def _instance(model: type[Model], table_alias: str, values: list[Any], connection: Any) -> Any:
    """The model built from its columns as the ORM builds it; None for the missing side of a
    LEFT JOIN (a NULL primary key)."""
    if values[0] is None:
        return None
    for index, col, converters in _converters(model, table_alias, connection.alias):
        for convert in converters:
            values[index] = convert(values[index], col, connection)
    return instance_from_row(model, _attnames(model), values, connection.alias)


@functools.cache
def _converters(model: type[Model], table_alias: str, alias: str) -> tuple[Any, ...]:
    """(index, column, converters) of the columns that need the ORM's converters: JSON
    decoding, and dates and UUIDs on SQLite. They depend on the column and the backend only,
    so one thread's connection serves them to all."""
    connection = connections[alias]
    result = []
    for index, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(table_alias)
        converters = (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))
        if converters:
            result.append((index, col, converters))
    return tuple(result)


def _auth_time(value: Any, connection: Any) -> datetime | None:
    col = SignIn._meta.get_field("auth_time").get_col("si")
    for convert in connection.ops.get_db_converters(col):  # a string on SQLite
        value = convert(value, col, connection)
    return value


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


# -- inserts and rotation -------------------------------------------------------------------
def access_token_insert(*, access_token: Any) -> None:
    """``access_token.save()`` for a new row, without the ORM's per-call SQL compilation."""
    alias = router.db_for_write(AccessToken)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        access_token.save()
        return
    access_token._prepare_related_fields_for_save(operation_name="save")  # as save() does
    with prepared_cursor(connection) as cursor:
        cursor.execute(_insert_sql(AccessToken, alias), _insert_params(access_token, (), alias))
        _saved(access_token, cursor.fetchone()[0], alias)


def refresh_token_rotate(
    *,
    previous: Any,
    access_token: Any,
    refresh_token: Any,
    id_token: Any | None,
    now: datetime,
) -> bool:
    """Revokes ``previous``, deletes its access token and saves the new id_token, access token
    and refresh token (pointing at that access token). False, with nothing written, when
    ``previous`` is revoked already: a concurrent rotation won the race."""
    alias = router.db_for_write(RefreshToken)
    if connections[alias].vendor != "postgresql":
        return _rotate_with_orm(alias, previous, access_token, refresh_token, id_token, now)
    old_access_id = previous.access_token_id
    params: list[Any] = [now, now, previous.pk]
    if old_access_id is not None:
        params.append(old_access_id)
    if id_token is not None:
        params += _insert_params(id_token, (), alias)
    params += _insert_params(access_token, ("id_token_id",) if id_token else (), alias)
    params += _insert_params(refresh_token, ("access_token_id",), alias)
    sql = _rotate_sql(alias, id_token is not None, old_access_id is not None)
    with prepared_cursor(connections[alias]) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    if id_token is not None:
        _saved(id_token, row[2], alias)
        access_token.id_token_id = id_token.pk
    _saved(access_token, row[0], alias)
    refresh_token.access_token_id = access_token.pk
    _saved(refresh_token, row[1], alias)
    return True


@functools.cache
def _rotate_sql(alias: str, with_id_token: bool, with_old_access: bool) -> str:
    quote = connections[alias].ops.quote_name
    refresh_table, access_table = (quote(m._meta.db_table) for m in (RefreshToken, AccessToken))
    ctes = [  # identifiers from model metadata, values as parameters
        f"claimed AS (UPDATE {refresh_table} SET revoked = %s, updated = %s,"  # noqa: S608
        " access_token_id = NULL WHERE id = %s AND revoked IS NULL RETURNING id)"
    ]
    if with_old_access:
        # The row pointing at it is unlinked by the same statement, and Django's foreign keys
        # are checked at commit (DEFERRABLE INITIALLY DEFERRED).
        ctes.append(
            f"dropped AS (DELETE FROM {access_table}"  # noqa: S608
            " WHERE id = %s AND EXISTS (SELECT 1 FROM claimed))"
        )
    access_computed: tuple[tuple[str, str], ...] = ()
    if with_id_token:
        ctes.append(f"new_id_token AS ({_insert_sql(IDToken, alias, 'claimed')})")
        access_computed = (("id_token_id", "(SELECT id FROM new_id_token)"),)
    access = _insert_sql(AccessToken, alias, "claimed", access_computed)
    refresh = _insert_sql(
        RefreshToken, alias, "new_access", (("access_token_id", "new_access.id"),)
    )
    ctes += [f"new_access AS ({access})", f"new_refresh AS ({refresh})"]
    id_token_id = "(SELECT id FROM new_id_token)" if with_id_token else "NULL"
    return (
        f"WITH {', '.join(ctes)} SELECT new_access.id, new_refresh.id, {id_token_id}"  # noqa: S608
        " FROM new_access, new_refresh"
    )


@functools.cache
def _insert_sql(
    model: type[Model], alias: str, source: str = "", computed: tuple[tuple[str, str], ...] = ()
) -> str:
    """INSERT ... VALUES, or INSERT ... SELECT once per row of the CTE ``source``, with the
    ``computed`` columns taken from SQL expressions instead of parameters."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields, expressions = _insert_fields(model), dict(computed)
    columns = ", ".join(quote(field.column) for field in fields)
    # Typed placeholders: a SELECT list does not take its types from the target columns.
    values = ", ".join(
        expressions.get(field.column) or f"%s::{field.cast_db_type(connection)}" for field in fields
    )
    table = quote(model._meta.db_table)
    rows = f"SELECT {values} FROM {source}" if source else f"VALUES ({values})"  # noqa: S608
    return f"INSERT INTO {table} ({columns}) {rows} RETURNING id"


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


def _insert_params(instance: Model, computed: tuple[str, ...], alias: str) -> list[Any]:
    """What Model.save() would send: pre_save fills the auto_now dates and a token's
    checksum from the raw value set_token_value stashed."""
    connection = connections[alias]
    return [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in _insert_fields(type(instance))
        if field.column not in computed
    ]


def _saved(instance: Model, pk: int, alias: str) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias


def _rotate_with_orm(
    alias: str, previous: Any, access_token: Any, refresh_token: Any, id_token: Any, now: datetime
) -> bool:
    with transaction.atomic(using=alias):
        claimed = RefreshToken.objects.filter(pk=previous.pk, revoked__isnull=True).update(
            revoked=now, updated=now, access_token=None
        )
        if not claimed:
            return False
        if previous.access_token_id is not None:
            AccessToken.objects.filter(pk=previous.access_token_id)._raw_delete(alias)
        if id_token is not None:
            id_token.save()
            access_token.id_token = id_token
        access_token.save()
        refresh_token.access_token = access_token
        refresh_token.save()
    return True
