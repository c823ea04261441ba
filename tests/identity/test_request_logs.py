"""Request ids and JSON logs (LOG_FORMAT=json): every response carries an X-Request-ID, every
record written during a request names it, one line per request says what was answered to whom,
and the JSON lines hold no secret."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.module_loading import import_string
from rest_framework.test import APIClient

from accounts.jwt import AccessToken
from accounts.models import OneTimeToken
from accounts.services.secrets import secret_issue
from accounts.services.sessions.browser import SESSION_ID_KEY
from identity.observe import HEADER, SESSION_SID_KEY, RequestIdFilter
from tests.security.conftest import fresh_ip

pytestmark = pytest.mark.django_db


class JsonLines:
    """The portal's JSON handler as LOGGING configures it, writing into memory."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        return [r for r in self.records() if r["logger"] == "identity.request"]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    conf = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(conf.pop("()"))(**conf)
    lines = JsonLines()
    handler = logging.StreamHandler(lines.stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(import_string(settings.LOGGING["filters"]["redact_token_paths"]["()"])())
    root, request_logger = logging.getLogger(), logging.getLogger("identity.request")
    level = request_logger.level
    request_logger.setLevel(logging.INFO)  # as LOGGING sets it with LOG_FORMAT=json
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)
    request_logger.setLevel(level)


def test_every_response_carries_a_new_request_id() -> None:
    first, second = Client().get(reverse("healthz")), Client().get("/no-such-page")
    assert re.fullmatch(r"[0-9a-f]{32}", first[HEADER])
    assert re.fullmatch(r"[0-9a-f]{32}", second[HEADER])
    assert first[HEADER] != second[HEADER]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("3f2c9a1e-6d0b-4c8e-9a57-1f0e2d3c4b5a", True),
        ("7F000001:C0A8_7F000001:1F90_6571A2B3_0001:1A2B", True),
        ("x" * 200, True),
        ("x" * 201, False),
        ("bad id with spaces", False),
        ('inject"}{"level":"ERROR', False),
        ("", False),
    ],
)
def test_a_sane_request_id_from_the_proxy_is_kept(given: str, kept: bool) -> None:
    echoed = Client().get(reverse("healthz"), HTTP_X_REQUEST_ID=given)[HEADER]
    assert (echoed == given) is kept
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_json_request_line_names_route_status_user_and_sid(json_logs, user, api_tokens) -> None:
    tokens = api_tokens(user)
    api = APIClient(REMOTE_ADDR="192.0.2.7")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    response = api.get(reverse("api:accounts:me"), HTTP_X_REQUEST_ID="proxy-id-1")
    assert response.status_code == 200
    sid = AccessToken(tokens["access_token"])["sid"]
    [line] = [r for r in json_logs.requests() if r["request_id"] == "proxy-id-1"]
    assert line["route"] == "/api/v1/me/"
    assert (line["method"], line["status"]) == ("GET", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["user"] == str(user.public_id)
    assert line["sid"] == sid
    assert line["client_ip"] == "192.0.2.7"
    assert line["level"] == "INFO"
    assert {"time", "message", "logger"} <= set(line)


def test_json_request_line_of_a_browser_sign_in_names_its_sid(json_logs, user, password) -> None:
    browser = Client(REMOTE_ADDR=fresh_ip())
    browser.post(reverse("accounts:login"), {"username": user.username, "password": password})
    sid = browser.session[SESSION_ID_KEY]
    browser.get(reverse("accounts:sessions"), HTTP_X_REQUEST_ID="page-2")
    [line] = [r for r in json_logs.requests() if r["request_id"] == "page-2"]
    assert (line["user"], line["sid"], line["status"]) == (str(user.public_id), sid, 200)


def test_anonymous_and_unmatched_requests_name_no_user(json_logs) -> None:
    Client().get("/no/such/page/42/", HTTP_X_REQUEST_ID="lost-3")
    [line] = [r for r in json_logs.requests() if r["request_id"] == "lost-3"]
    assert (line["route"], line["status"], line["user"], line["sid"]) == (
        "unmatched",
        404,
        None,
        None,
    )


def test_every_record_of_a_request_carries_its_id(json_logs, user) -> None:
    api = APIClient(REMOTE_ADDR=fresh_ip())
    api.post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": "wrong"},
        format="json",
        HTTP_X_REQUEST_ID="failed-4",
    )
    mine = [r for r in json_logs.records() if r.get("request_id") == "failed-4"]
    loggers = {r["logger"] for r in mine}
    # django-axes' warning about the failure, django.request's about the 4xx (written after
    # every middleware returned), and the request line itself.
    assert {"axes.handlers.database", "django.request", "identity.request"} <= loggers
    logging.getLogger("outside").warning("no request here")
    [outside] = [r for r in json_logs.records() if r["logger"] == "outside"]
    assert outside["request_id"] == ""


def test_json_lines_hold_no_link_token_code_or_bearer(json_logs, user, api_tokens) -> None:
    reset_token, _ = secret_issue(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, ttl=timedelta(hours=1)
    )
    access = api_tokens(user)["access_token"]
    code = "Xq7" * 12
    browser = Client()
    browser.get(reverse("accounts:password_reset_confirm", args=[reset_token]))
    browser.get(f"/accounts/password-reset/{reset_token}x/")  # a wrong link: logged 4xx
    browser.get("/o/authorize/", {"code": code, "token": access})
    browser.get(f"/accounts/login/?next=%2Fo%2Fauthorize%2F%3Fcode%3D{code}")
    browser.get("/no-such-page/", {"code": code, "access_token": access})
    APIClient().get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=f"Bearer {access}x")
    text = json_logs.text
    assert json_logs.requests()
    for secret in (reset_token, access, code):
        assert secret not in text


def test_the_sid_key_read_by_the_log_line_is_the_browser_sessions() -> None:
    assert SESSION_SID_KEY == SESSION_ID_KEY
