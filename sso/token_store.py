"""Token rows on the token endpoint's hot paths, in SQL built once per process.

Through the ORM the refresh grant spent about 2 ms of CPU compiling its lookup (three joins,
two subqueries) and 2 more on five model saves between BEGIN and COMMIT. Here the lookup is
one SELECT and, on Postgres, the rotation one statement of data-modifying CTEs: atomic by
itself, so no transaction round trips, and it inserts nothing unless it revoked the presented
token first. Values go through each field's own pre_save and database preparation, so tokens
are stored as DOT stores them (blank ``token``, SHA-256 ``token_checksum``: RFC 9700 token
storage); column lists come from the models, so a new field needs no change here. Statements
are built and run through identity.postgres.statements; on other databases (SQLite for
``make run``) the lookup and the writes take the ORM path.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Exists, F, Field, Model, OuterRef, Subquery
from oauth2_provider.models import (
    get_access_token_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.models import UserSession
from identity.postgres import instance_saved
from identity.postgres.statements import Select, Statement, fast_path, select_statement
from sso.models import SignIn

AccessToken = get_access_token_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()


# -- refresh-token lookup -------------------------------------------------------------------
def refresh_token_load(*, checksum: str, now: datetime) -> Any:
    """The refresh token with its access token, user, profile and application attached (the
    token endpoint authenticates the client from this row: no separate client lookup), and
    three extras: ``sso_session_live`` (its UserSession is neither revoked nor expired),
    ``sso_auth_time`` (of its sign-in) and ``sso_amr`` (how that sign-in was proven, for the
    refreshed id_token). None when no token has this checksum."""
    alias = router.db_for_read(RefreshToken)
    if not fast_path(connections[alias]):
        return _refresh_token_orm(checksum=checksum, now=now)
    statement = _load_statement(alias)
    row = statement.row([now, checksum])
    if row is None:
        return None
    refresh = statement.instances(row)[0]
    live, auth_time, amr = statement.extras(row)
    refresh.sso_session_live, refresh.sso_auth_time, refresh.sso_amr = bool(live), auth_time, amr
    return refresh


@functools.cache
def _load_statement(alias: str) -> Select:
    return select_statement(
        RefreshToken,
        "rt",
        related=(
            ("access_token", "at"),
            ("user", "u"),
            ("user__profile", "p"),
            ("application", "app"),
        ),
        extra=(
            "EXISTS (SELECT 1 FROM {s} WHERE {s.id} = {rt.token_family}"
            " AND {s.revoked_at} IS NULL AND {s.expires_at} > %s)",
            "(SELECT {si.auth_time} FROM {si} WHERE {si.id} = {rt.token_family})",
            "(SELECT {s.amr} FROM {s} WHERE {s.id} = {rt.token_family})",
        ),
        tables=(("s", UserSession), ("si", SignIn)),
        where="{rt.token_checksum} = %s",
        # A revoked row may share the checksum of a live one (DOT #1816): the live one wins.
        tail="ORDER BY {rt.revoked} DESC NULLS FIRST LIMIT 1",
        using=alias,
    )


def _refresh_token_orm(*, checksum: str, now: datetime) -> Any:
    """The statement's answer through the ORM."""
    family = OuterRef("token_family")
    live = UserSession.objects.filter(pk=family, revoked_at__isnull=True, expires_at__gt=now)
    auth_time = SignIn.objects.filter(pk=family).values("auth_time")[:1]
    amr = UserSession.objects.filter(pk=family).values("amr")[:1]
    tokens = RefreshToken.objects.select_related(
        "access_token", "user", "user__profile", "application"
    ).annotate(
        sso_session_live=Exists(live), sso_auth_time=Subquery(auth_time), sso_amr=Subquery(amr)
    )
    return (
        tokens.filter(token_checksum=checksum).order_by(F("revoked").desc(nulls_first=True)).first()
    )


# -- inserts and rotation -------------------------------------------------------------------
def access_token_insert(*, access_token: Any) -> None:
    """``access_token.save()`` for a new row, without the ORM's per-call SQL compilation."""
    alias = router.db_for_write(AccessToken)
    if not fast_path(connections[alias]):
        access_token.save()
        return
    access_token._prepare_related_fields_for_save(operation_name="save")  # as save() does
    statement = Statement(_insert_sql(AccessToken, alias), alias)
    instance_saved(access_token, statement.row(_insert_params(access_token, (), alias))[0], alias)


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
    if not fast_path(connections[alias]):
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
    row = Statement(sql, alias).row(params)
    if row is None:
        return False
    if id_token is not None:
        instance_saved(id_token, row[2], alias)
        access_token.id_token_id = id_token.pk
    instance_saved(access_token, row[0], alias)
    refresh_token.access_token_id = access_token.pk
    instance_saved(refresh_token, row[1], alias)
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
