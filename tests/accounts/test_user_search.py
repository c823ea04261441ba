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


def test_search_uses_the_prefix_index_on_a_large_table(user_factory):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are Postgres's")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, public_id, username, email, "
            "user_type, must_change_password, is_active, is_staff, date_joined, updated_at) "
            "SELECT '!', false, gen_random_uuid(), 'user' || g, 'user' || g || '@example.com', "
            "'customer', false, true, false, now(), now() FROM generate_series(1, 50000) g"
        )
        cursor.execute("ANALYZE accounts_user")
    plan = user_list(search="user4242")[:20].explain()
    assert "accounts_user_username_prefix" in plan
    assert "accounts_user_email_prefix" in plan
    assert "Seq Scan on accounts_user" not in plan


@pytest.mark.parametrize("login", ["user4242", "USER4242@Example.com"])
def test_login_lookup_uses_the_case_insensitive_unique_index(user_factory, login):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are Postgres's")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, public_id, username, email, "
            "user_type, must_change_password, is_active, is_staff, date_joined, updated_at) "
            "SELECT '!', false, gen_random_uuid(), 'user' || g, 'user' || g || '@example.com', "
            "'customer', false, true, false, now(), now() FROM generate_series(1, 50000) g"
        )
        cursor.execute("ANALYZE accounts_user")
    with CaptureQueriesContext(connection) as queries:
        found = user_get_by_login(login=login)
    assert found is not None
    assert found.username == "user4242"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on accounts_user" not in plan
    assert "Index Scan using accounts_user_" in plan
    assert "Index Cond: (lower(" in plan
