"""The problem shape for every kind of failure, and bad input that changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.api.conftest import assert_problem

SIGNUP = "api:sso:signup"
GOOD = {"username": "newbie", "email": "newbie@example.com", "password": "a long enough secret 9"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "parse_error"),
        ("username=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (json.dumps({**GOOD, "is_staff": True}), "application/json", 400, "validation_error"),
        (json.dumps({**GOOD, "username": 42}), "application/json", 400, "validation_error"),
        (json.dumps([GOOD]), "application/json", 400, "validation_error"),
        (json.dumps({**GOOD, "note": "x" * 300_000}), "application/json", 413, "request_too_large"),
    ],
)
def test_bad_input_is_a_problem_and_changes_nothing(api, body, content_type, status, code):
    response = api.generic("POST", reverse(SIGNUP), body, content_type=content_type)
    assert_problem(response, status, code)
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_unknown_field_is_named(api):
    body = assert_problem(
        api.post(reverse(SIGNUP), {**GOOD, "is_staff": True}, format="json"),
        400,
        "validation_error",
    )
    assert body["errors"] == [
        {"field": "is_staff", "code": "unknown_field", "message": "Unknown field."}
    ]


@pytest.mark.django_db
def test_password_rules_keep_their_codes(api):
    body = assert_problem(
        api.post(reverse(SIGNUP), {**GOOD, "password": "short"}, format="json"),
        400,
        "validation_error",
    )
    assert ("password", "password_too_short") in {(e["field"], e["code"]) for e in body["errors"]}


@pytest.mark.django_db
def test_401_without_token(api):
    response = api.get(reverse("api:accounts:me"))
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_401_with_garbage_token(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert_problem(api.get(reverse("api:accounts:me")), 401, "token_not_valid")


@pytest.mark.django_db
def test_403_names_the_missing_permission(user_api):
    body = assert_problem(user_api.get(reverse("api:accounts:users")), 403, "permission_denied")
    assert "users.read" in body["detail"]


@pytest.mark.django_db
def test_404_for_unknown_api_path(api):
    assert_problem(api.get("/api/v1/nothing-here/"), 404, "not_found")


@pytest.mark.django_db
def test_404_page_stays_html(client: Client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_405(api):
    assert_problem(api.get(reverse("api:accounts:login")), 405, "method_not_allowed")


@pytest.mark.django_db
def test_409_duplicate_username(api, user):
    body = {**GOOD, "username": user.username.upper()}
    problem = assert_problem(api.post(reverse(SIGNUP), body, format="json"), 409, "username_exists")
    assert problem["errors"][0]["field"] == "username"


def test_500_is_a_problem_without_internals(rf):
    from identity.api.errors import handler500

    request = rf.get("/api/v1/boom/")
    response = handler500(request)
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "server_error"


@pytest.mark.django_db
def test_unhandled_error_in_a_view_is_a_500_problem(admin_api, monkeypatch):
    from accounts import services

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "user_create", boom)
    admin_api.raise_request_exception = False  # the handler reports it like Django would
    response = admin_api.post(
        reverse("api:accounts:users"), {"username": "x1", "email": "x1@example.com"}, format="json"
    )
    body = assert_problem(response, 500, "server_error")
    assert "secret" not in json.dumps(body)


# -- issue 19: everything under /api/ answers a problem --------------------------------------

UNKNOWN_API_PATHS = [
    "/api",
    "/api/",
    "/api/nothing",
    "/api/nothing/",
    "/api/v1",
    "/api/v1/",
    "/api/v1/nothing-here",
    "/api/v1/users/x/y/z/",
    "/api/v2/me/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_api_paths_are_problems(api, method, path):
    assert_problem(api.generic(method, path), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api", "/api/v1/nothing-here/"])
def test_head_of_an_unknown_api_path_is_a_bodiless_problem(api, path):
    response = api.head(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "name", "allowed"),
    [
        ("DELETE", "api:sso:signup", "POST"),
        ("GET", "api:accounts:refresh", "POST"),
        ("PUT", "api:accounts:login", "POST"),
        ("POST", "api_schema", "GET"),
        ("POST", "api_docs", "GET"),
        ("PATCH", "api_docs", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_problem_with_allow(api, method, name, allowed):
    response = api.generic(method, reverse(name))
    # assert_problem parses the body as JSON: the schema and docs views render YAML and HTML.
    assert_problem(response, 405, "method_not_allowed")
    assert allowed in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_post_without_the_trailing_slash_is_redirected_keeping_its_method(
    api, user, settings, debug
):
    """Django's 301 makes clients repeat a POST as a GET (and with DEBUG it raises a
    RuntimeError page): under /api/ the redirect is a 308, which keeps method and body."""
    settings.DEBUG = debug
    path = reverse("api:accounts:login").rstrip("/")
    response = api.post(path, {"login": user.username, "password": "x"}, format="json")
    assert response.status_code == 308
    assert response["Location"] == reverse("api:accounts:login")


@pytest.mark.django_db
def test_a_get_without_the_trailing_slash_still_redirects(api):
    response = api.get(reverse("api:accounts:me").rstrip("/"))
    assert response.status_code in {301, 308}
    assert response["Location"] == reverse("api:accounts:me")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api_schema", "api_docs"])
def test_schema_and_docs_still_answer(client, name):
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["", "abc", "0", "-1", "1.5", "²"])
def test_a_malformed_page_number_is_refused_not_served_as_the_first_page(user_api, page):
    body = assert_problem(
        user_api.get(reverse("api:sso:applications"), {"page": page}), 400, "validation_error"
    )
    assert body["errors"][0]["field"] == "page"
    assert user_api.get(reverse("api:sso:applications"), {"page": "1"}).status_code == 200
