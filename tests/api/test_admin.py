"""Administration of users and email-domain rules."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from accounts.models import EmailDomainRule, User
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: object) -> str:
    return reverse(f"api:accounts:{name}", kwargs=kwargs or None)


def test_list_needs_authentication(api):
    assert_problem(api.get(url("users")), 401, "not_authenticated")


def test_list_search_filter_order_page(admin_api, admin_user, user_factory):
    # The signed-in admin is listed too: a Faker name such as "allison" would match "al".
    admin_user.username, admin_user.email = "root", "root@example.com"
    admin_user.save(update_fields=["username", "email"])
    for name in ("alpha", "alpine", "beta"):
        user_factory(username=name, email=f"{name}@example.com")
    user_factory(username="alps", email="alps@example.com", is_active=False)
    data = admin_api.get(url("users"), {"search": "AL", "is_active": "true"}).json()
    assert [u["username"] for u in data["results"]] == ["alpha", "alpine"]
    assert data["count"] == 2
    assert data["next"] is None
    assert data["previous"] is None
    page = admin_api.get(url("users"), {"search": "al", "page_size": 1, "ordering": "-username"})
    assert page.json()["results"][0]["username"] == "alps"
    assert page.json()["next"]
    capped = admin_api.get(url("users"), {"page_size": 1000})
    assert capped.status_code == 200
    assert_problem(admin_api.get(url("users"), {"user_type": "alien"}), 400, "validation_error")
    assert_problem(admin_api.get(url("users"), {"page_size": "x"}), 400, "validation_error")


def test_create_with_temporary_password(admin_api, mailoutbox, django_capture_on_commit_callbacks):
    body = {"username": "temp", "email": "temp@example.com", "password": "temporary secret 123"}
    response = admin_api.post(url("users"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["must_change_password"] is True
    dup = admin_api.post(url("users"), {**body, "email": "x@example.com"}, format="json")
    assert_problem(dup, 409, "username_exists")
    dup = admin_api.post(url("users"), {**body, "username": "temp2"}, format="json")
    assert_problem(dup, 409, "email_exists")


def test_create_invitation(admin_api, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            url("users"), {"username": "inv", "email": "inv@example.com"}, format="json"
        )
    assert response.status_code == 201
    assert mailoutbox[-1].to == ["inv@example.com"]


def test_detail_patch_delete(admin_api, user):
    detail = url("user", public_id=user.public_id)
    assert admin_api.get(detail).json()["username"] == user.username
    patch = {
        "user_type": "partner",
        "is_active": False,
        "must_change_password": True,
        "profile": {"first_name": "Pat"},
    }
    data = admin_api.patch(detail, patch, format="json").json()
    assert data["user_type"] == "partner"
    assert data["is_active"] is False
    assert data["profile"]["first_name"] == "Pat"
    refused = admin_api.patch(detail, {"password": "new one please 1"}, format="json")
    assert_problem(refused, 400, "validation_error")
    assert admin_api.delete(detail).status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("public_id", [uuid.uuid4(), "not-a-uuid"])
def test_unknown_user(admin_api, public_id):
    assert_problem(admin_api.get(url("user", public_id=public_id)), 404, "user_not_found")


def test_admin_password_reset(admin_api, user, mailoutbox):
    response = admin_api.post(url("user_password_reset", public_id=user.public_id))
    assert response.status_code == 202
    assert mailoutbox[-1].to == [user.email]


def test_domain_rules(admin_api):
    created = admin_api.post(
        url("email_domain_rules"), {"domain": " Example.COM. ", "action": "block"}, format="json"
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["domain"] == "example.com"
    dup = admin_api.post(
        url("email_domain_rules"), {"domain": "example.com", "action": "allow"}, format="json"
    )
    assert_problem(dup, 409, "domain_rule_exists")
    bad = admin_api.post(
        url("email_domain_rules"), {"domain": "not a domain", "action": "allow"}, format="json"
    )
    assert_problem(bad, 400, "validation_error")
    assert admin_api.get(url("email_domain_rules")).json()["count"] == 1
    detail = url("email_domain_rule", pk=rule["id"])
    assert admin_api.patch(detail, {"note": "spam"}, format="json").json()["note"] == "spam"
    assert admin_api.delete(detail).status_code == 204
    assert not EmailDomainRule.objects.exists()
    assert_problem(admin_api.get(detail), 404, "domain_rule_not_found")


def test_rules_need_permission(user_api):
    assert_problem(user_api.get(url("email_domain_rules")), 403, "permission_denied")
