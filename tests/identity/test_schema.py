"""The schema the migrations build: no index that another index already does the work of."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    pytest.skip("reads Postgres's catalogue", allow_module_level=True)

OUR_APPS = ("accounts", "authz", "sso")

# Plain (non-unique, no expression, no predicate) indexes whose columns lead another index
# of the same table: every write pays for them, and that other index answers their lookups.
REDUNDANT = """
WITH idx AS (
    SELECT c.relname AS tbl, ic.relname AS name, i.indkey::text AS cols,
           NOT i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL AS plain
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema()
)
SELECT a.tbl, a.name, b.name FROM idx a JOIN idx b
  ON a.tbl = b.tbl AND a.name <> b.name AND b.cols LIKE a.cols || ' %%'
WHERE a.plain
"""


def _redundant_indexes() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT)
        rows = cursor.fetchall()
    return sorted(row for row in rows if row[0].startswith(tuple(f"{app}_" for app in OUR_APPS)))


# Declared by code that is not ours: Django's PermissionsMixin many-to-many tables and
# django-oauth-toolkit's AbstractApplication.user.
NOT_OURS = {"accounts_user_groups", "accounts_user_user_permissions", "sso_application"}


def test_no_index_of_ours_repeats_the_leading_columns_of_another():
    assert [row for row in _redundant_indexes() if row[0] not in NOT_OURS] == []


def test_the_sign_in_tables_keep_an_index_that_serves_lookups_by_user():
    with connection.cursor() as cursor:
        for table in ("accounts_loginevent", "accounts_usersession"):
            cursor.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename = %s"
                " AND indexdef LIKE '%%(user_id, %%'",
                [table],
            )
            assert cursor.fetchone()[0] == 1, table


def _fk_constraint() -> tuple[int, bool]:
    """The sign-in events' foreign key to users: its identity and whether it is validated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT oid, convalidated FROM pg_constraint"
            " WHERE conrelid = 'accounts_loginevent'::regclass AND contype = 'f'"
        )
        return cursor.fetchone()


def _index_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_only_the_index_and_reverses():
    """Django's own AlterField would drop and re-add the foreign key, re-checking every row of
    the sign-in tables under a lock that blocks sign-ins; this one drops the index alone
    (CONCURRENTLY) and puts it back when reversed."""
    index = "accounts_loginevent_user_id_0b0fdf50"
    constraint = _fk_constraint()
    assert not _index_exists(index)
    try:
        call_command("migrate", "accounts", "0003", verbosity=0)
        assert _index_exists(index)
    finally:
        call_command("migrate", "accounts", verbosity=0)
    assert not _index_exists(index)
    assert _fk_constraint() == constraint  # the same constraint, still validated
    assert constraint[1] is True
