"""has_perm, @permission_required, PermissionRequiredMixin and {% perms %} on role permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views import View

from accounts.models import User
from authz import services

pytestmark = pytest.mark.django_db


@permission_required("billing.read", raise_exception=True)
def billing_page(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(
        "{% if perms.billing.read %}may read billing{% endif %}"
        "{% if perms.billing.refund %} may refund{% endif %}"
        "{% if perms.billing %} (billing module){% endif %}"
    )
    return HttpResponse(template.render({}, request))


class RefundView(PermissionRequiredMixin, View):
    permission_required = "billing.refund"
    raise_exception = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("refunds")


urlpatterns = [
    path("billing/", billing_page),
    path("refunds/", RefundView.as_view()),
]


@pytest.fixture
def clerk(user, billing_clerk) -> User:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    return User.objects.get(pk=user.pk)


def test_has_perm_answers_from_roles(clerk) -> None:
    assert clerk.has_perm("billing.read")
    assert not clerk.has_perm("billing.refund")
    assert clerk.has_perms(["billing.read"])
    assert clerk.has_module_perms("billing")
    assert not clerk.has_module_perms("users")
    assert "billing.read" in clerk.get_all_permissions()


def test_django_model_permissions_stay_with_model_backend(clerk) -> None:
    assert not clerk.has_perm("accounts.view_user")


def test_inactive_users_hold_nothing(clerk) -> None:
    clerk.is_active = False

    assert not clerk.has_perm("billing.read")
    assert clerk.get_all_permissions() == set()


def test_superusers_hold_everything(admin_user) -> None:
    assert admin_user.has_perm("billing.read")
    assert admin_user.has_module_perms("billing")


@pytest.mark.urls(__name__)
def test_permission_required_page_and_template_perms(client, clerk) -> None:
    client.force_login(clerk)

    response = client.get("/billing/")

    assert response.status_code == 200
    assert response.content.decode() == "may read billing (billing module)"


@pytest.mark.urls(__name__)
def test_denied_page_is_the_friendly_403(client, user) -> None:
    client.force_login(user)

    for url in ("/billing/", "/refunds/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Access denied" in response.content.decode()


@pytest.mark.urls(__name__)
def test_permission_required_mixin_grants_after_role_change(client, clerk, billing_clerk) -> None:
    client.force_login(clerk)
    assert client.get("/refunds/").status_code == 403

    services.permission_create(code="billing.refund")
    services.role_update(role=billing_clerk, permissions=["billing.read", "billing.refund"])

    assert client.get("/refunds/").status_code == 200


def test_home_page_lists_the_users_permissions(client, clerk) -> None:
    client.force_login(clerk)

    body = client.get("/").content.decode()

    assert "Your permissions" in body
    assert "billing.read" in body
    assert "billing-clerk" in body
