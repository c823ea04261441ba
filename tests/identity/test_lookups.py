"""Not-found in the API is handled one way: selectors return None, views call get_or_404, and
the problem body stays what clients already get."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from authz.errors import UserNotFound
from identity.api.lookups import NotFound, get_or_404

ROOT = Path(__file__).resolve().parents[2]
APPS = ("identity", "authz", "accounts", "sso")


def test_get_or_404_returns_what_it_is_given():
    found = object()
    assert get_or_404(found) is found
    assert get_or_404(0) == 0  # falsy is not missing: only None is


def test_get_or_404_raises_the_error_it_is_given():
    with pytest.raises(UserNotFound) as raised:
        get_or_404(None, error=UserNotFound)
    assert (raised.value.code, raised.value.status) == ("user_not_found", 404)


def test_get_or_404_raises_the_generic_not_found_by_default():
    with pytest.raises(NotFound) as raised:
        get_or_404(None)
    assert (raised.value.code, raised.value.status) == ("not_found", 404)


@pytest.mark.django_db
def test_a_missing_application_answers_the_same_problem_as_before(user):
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(reverse("api:sso:application", args=["no-such-client"]))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not found.",
        "code": "not_found",
        "errors": [],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api:accounts:user", "api:authz:user_roles"])
def test_a_missing_user_is_user_not_found_on_every_app(admin_user, name):
    api = APIClient()
    api.force_authenticate(admin_user)
    for public_id in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        response = api.get(reverse(name, kwargs={"public_id": public_id}))
        assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


def test_no_api_module_handles_not_found_its_own_way():
    own_way = re.compile(r"\bHttp404\b|def \w+_or_404\(")
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app / "api").rglob("*.py")
        if path.name != "lookups.py" and own_way.search(path.read_text())
    ]
    assert offenders == []
