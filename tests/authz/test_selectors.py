"""The permission check: effective permissions, expiry, superusers, inactive, query budgets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from authz import selectors, services

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """The user as the next request loads it: no per-request memo."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(user, billing_clerk) -> User:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    return fresh(user)


def test_effective_permissions_follow_included_roles_transitively(user, permission_factory):
    for code in ("a.read", "b.read", "c.read"):
        services.permission_create(code=code)
    services.role_create(name="c", permissions=["c.read"])
    services.role_create(name="b", permissions=["b.read"], included_roles=["c"])
    top = services.role_create(name="a", permissions=["a.read"], included_roles=["b"])

    services.role_assign(user=user, role=top, granted_by=None)

    assert selectors.user_effective_permissions(user=user) == {"a.read", "b.read", "c.read"}
    assert selectors.user_roles(user=user) == ["a", "b", "c"]
    assert selectors.permission_grantors(user=user, code="c.read") == ["a"]
    assert selectors.roles_granting(code="c.read") == ["a", "b", "c"]


def test_an_assignment_stops_granting_at_its_expiry_without_invalidation(
    user, billing_clerk, monkeypatch
) -> None:
    expiry = timezone.now() + timedelta(hours=1)
    services.role_assign(user=user, role=billing_clerk, granted_by=None, expires_at=expiry)
    assert selectors.user_has_permission(user=fresh(user), code="billing.read")

    later = expiry + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert not selectors.user_has_permission(user=fresh(user), code="billing.read")
    assert selectors.user_roles(user=fresh(user)) == []


def test_an_active_superuser_holds_every_permission(admin_user, permission_factory) -> None:
    permission_factory(code="billing.read")

    assert selectors.user_has_permission(user=admin_user, code="billing.read")
    assert selectors.user_has_permission(user=admin_user, code="anything.at_all")
    assert "billing.read" in selectors.user_effective_permissions(user=admin_user)


def test_inactive_and_anonymous_users_hold_nothing(clerk, admin_user) -> None:
    User.objects.filter(pk__in=[clerk.pk, admin_user.pk]).update(is_active=False)

    for user in (fresh(clerk), fresh(admin_user), AnonymousUser(), None):
        assert not selectors.user_has_permission(user=user, code="billing.read")
        assert selectors.user_effective_permissions(user=user) == frozenset()
        assert selectors.user_roles(user=user) == []


def test_a_role_change_is_visible_on_the_next_check(clerk, billing_clerk) -> None:
    services.permission_create(code="billing.refund")
    assert not selectors.user_has_permission(user=clerk, code="billing.refund")

    services.role_update(role=billing_clerk, permissions=["billing.read", "billing.refund"])

    assert selectors.user_has_permission(user=clerk, code="billing.refund")


def test_cold_check_costs_at_most_two_queries(clerk, django_assert_max_num_queries) -> None:
    cache.clear()
    next_request_user = fresh(clerk)

    with django_assert_max_num_queries(2):
        assert selectors.user_has_permission(user=next_request_user, code="billing.read")


def test_warm_check_costs_no_query(clerk, django_assert_num_queries) -> None:
    selectors.user_has_permission(user=clerk, code="billing.read")
    next_request_user = fresh(clerk)

    with django_assert_num_queries(0):
        assert selectors.user_has_permission(user=next_request_user, code="billing.read")
        assert not selectors.user_has_permission(user=next_request_user, code="users.write")
        assert selectors.user_roles(user=next_request_user) == ["billing-clerk"]
        assert "billing.read" in selectors.user_effective_permissions(user=next_request_user)


def test_a_second_user_costs_one_query_once_the_graph_is_warm(
    clerk, user_factory, billing_clerk, django_assert_num_queries
) -> None:
    selectors.user_has_permission(user=clerk, code="billing.read")
    other = user_factory()
    services.role_assign(user=other, role=billing_clerk, granted_by=None)
    other = fresh(other)

    with django_assert_num_queries(1):  # only the assignments; the role graph is shared
        assert selectors.user_has_permission(user=other, code="billing.read")
