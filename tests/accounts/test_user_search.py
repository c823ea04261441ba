"""The admin user search: case-insensitive prefixes, served by an index at any size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.selectors import user_get_by_login, user_list

pytestmark = pytest.mark.django_db


def test_search_matches_username_or_email_prefix_ignoring_case(user_factory):
    alice = user_factory(username="Alice.Smith", email="alice@corp.example")
    bob = user_factory(username="bob", email="ALIBI@example.com")
    user_factory(username="carol", email="carol@example.com")
    assert list(user_list(search="ali")) == [alice, bob]
    assert list(user_list(search="ALICE.s")) == [alice]
    assert list(user_list(search="smith")) == []  # a prefix, not a substring


def test_search_treats_like_wildcards_literally(user_factory):
    user_factory(username="a_b")
    user_factory(username="axb")
    assert [u.username for u in user_list(search="a_")] == ["a_b"]
    assert list(user_list(search="%")) == []


def test_search_uses_the_prefix_indexes(user_factory):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are Postgres's")
    user_factory(username="user4242", email="user4242@example.com")
    with connection.cursor() as cursor:
        # As in the login test below: sequential scans priced out instead of 50,000 bulk rows,
        # whose dead tuples would slow every later test on this database.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = user_list(search="user4242")[:20].explain()
    assert "accounts_user_username_prefix" in plan
    assert "accounts_user_email_prefix" in plan
    assert "Seq Scan on accounts_user" not in plan


@pytest.mark.parametrize("login", ["Alice.Lookup", "ALICE.lookup@Example.com"])
def test_login_lookup_can_use_the_case_insensitive_indexes(user_factory, login):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are Postgres's")
    user_factory(username="alice.lookup", email="alice.lookup@example.com")
    with CaptureQueriesContext(connection) as queries:
        found = user_get_by_login(login=login)
    assert found is not None
    assert found.username == "alice.lookup"
    with connection.cursor() as cursor:
        # No bulk rows (their dead tuples would slow every later test): with sequential scans
        # priced out, the plan shows whether an index can answer the lookup at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using accounts_user_" in plan, plan
    assert "Index Cond: (lower(" in plan, plan
