"""Lockout (django-axes) through the API, throttles, and password reset by code."""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import LoginEvent, OneTimeToken
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another long secret 77"


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def test_lockout_after_five_failures(api, user):
    wrong = {"login": user.username, "password": "wrong"}
    statuses = [api.post(url("login"), wrong, format="json").status_code for _ in range(5)]
    assert statuses[:4] == [401] * 4
    right = {"login": user.username.upper(), "password": DEFAULT_PASSWORD}
    response = api.post(url("login"), right, format="json")
    assert_problem(response, 429, "locked_out")
    assert int(response["Retry-After"]) > 0
    assert LoginEvent.objects.filter(user=user, outcome="locked_out").exists()


def test_page_failures_count_for_the_api(api, client, user):
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": user.username, "password": "no"})
    response = api.post(
        url("login"), {"login": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert_problem(response, 429, "locked_out")
    assert response["Retry-After"]


@pytest.fixture
def tight_rates(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "2/min", "login_identifier": "50/min"}


def test_throttle_per_ip(api, user, tight_rates):
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    for _ in range(2):
        assert api.post(url("login"), body, format="json").status_code == 200
    response = api.post(url("login"), body, format="json")
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def _rates(settings, **rates):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


def test_a_call_refused_by_one_limit_still_counts_for_the_other(api, user, settings):
    """DRF's check_throttles semantics, kept by the combined throttle: the IP limit counts a
    call the identifier limit refuses, so rotating identifiers from one address is stopped."""
    _rates(settings, password_reset="3/hour", password_reset_identifier="1/hour")
    assert api.post(url("password_reset"), {"login": "a"}, format="json").status_code == 202
    refused = api.post(url("password_reset"), {"login": "a"}, format="json")
    assert_problem(refused, 429, "throttled")  # the identifier's limit
    assert api.post(url("password_reset"), {"login": "b"}, format="json").status_code == 202
    # Three calls from this address so far, one of them refused: the IP limit is spent.
    response = api.post(url("password_reset"), {"login": "c"}, format="json")
    assert_problem(response, 429, "throttled")


def test_retry_after_is_the_longer_wait_of_the_two_limits(api, user, settings):
    _rates(settings, login="1/min", login_identifier="1/hour")
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    assert api.post(url("login"), body, format="json").status_code == 200
    response = api.post(url("login"), body, format="json")
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 60 * 59  # the hour, not the minute


def test_both_limits_take_one_cache_read_and_one_write(
    api, user, tight_rates, throttle_cache_calls
):
    """Two round trips to Redis for the two limits of a sign-in, not four."""
    calls = throttle_cache_calls
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    assert api.post(url("login"), body, format="json").status_code == 200
    assert calls == ["get_many", "set_many"]


def test_throttles_let_calls_through_while_the_cache_is_down(api, user, tight_rates, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    monkeypatch.setattr(cache, "get_many", down)
    for _ in range(3):  # more than the IP limit of 2
        assert api.post(url("login"), body, format="json").status_code == 200


def test_throttle_per_identifier_counts_per_address(api, user, settings):
    """The identifier limit counts the (login, IP) pair, as axes does: one address cannot
    hammer one account, and strangers cannot spend the owner's allowance (issue 16, item 10)."""
    _rates(settings, password_reset_identifier="2/hour")
    for _ in range(2):
        response = api.post(
            url("password_reset"), {"login": "victim"}, format="json", REMOTE_ADDR="10.0.0.1"
        )
        assert response.status_code == 202
    response = api.post(
        url("password_reset"), {"login": "VICTIM"}, format="json", REMOTE_ADDR="10.0.0.1"
    )
    assert_problem(response, 429, "throttled")
    response = api.post(
        url("password_reset"), {"login": "victim"}, format="json", REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 202


STRANGER, OWNER = "198.51.100.1", "203.0.113.2"


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_of_api_sign_in(api, user):
    wrong = {"login": user.username, "password": "wrong"}
    for _ in range(11):  # past the per-login limit (10/min) and axes' five failures
        api.post(url("login"), wrong, format="json", REMOTE_ADDR=STRANGER)
    right = {"login": user.username, "password": DEFAULT_PASSWORD}

    assert_problem(
        api.post(url("login"), right, format="json", REMOTE_ADDR=STRANGER), 429, "throttled"
    )
    response = api.post(url("login"), right, format="json", REMOTE_ADDR=OWNER)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("name", "scope", "body", "owner_status"),
    [
        ("password_reset", "password_reset", {"login": "{username}"}, 202),
        (
            "password_reset_confirm",
            "password_reset_confirm",
            {"login": "{username}", "code": "000000", "new_password": NEW_PASSWORD},
            400,
        ),
        ("verify_email_resend", "verify_resend", {"email": "{email}"}, 202),
        (
            "confirm_account",
            "login",
            {"login": "{username}", "old_password": "x", "new_password": NEW_PASSWORD},
            401,
        ),
    ],
)
def test_a_stranger_cannot_spend_the_owners_allowance(
    api, user, name, scope, body, owner_status, settings
):
    """Every per-identifier limit where a stranger could lock the owner out counts per address."""
    body = {k: v.format(username=user.username, email=user.email) for k, v in body.items()}
    limit = int(settings.RATE_LIMITS[f"{scope}_identifier"].split("/")[0])
    for _ in range(limit):
        api.post(url(name), body, format="json", REMOTE_ADDR=STRANGER)
    refused = api.post(url(name), body, format="json", REMOTE_ADDR=STRANGER)
    assert_problem(refused, 429, "throttled")

    response = api.post(url(name), body, format="json", REMOTE_ADDR=OWNER)
    assert response.status_code == owner_status, response.content


def _reset_code(api, user, mailoutbox) -> str:
    assert api.post(url("password_reset"), {"login": user.email}, format="json").status_code == 202
    code = re.search(r"^([2-9A-Z]{8,})$", mailoutbox[-1].body, re.MULTILINE).group(1)
    assert "http" in mailoutbox[-1].body  # the link travels with the code
    return code


def test_reset_same_answer_whether_or_not_account_exists(api, user, settings):
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 150
    timings: dict[str, list[float]] = {user.username: [], "nobody-here": []}
    bodies = set()
    # Interleaved pairs and medians: one slow sample on a busy machine proves nothing.
    for _ in range(3):
        for login in timings:
            started = time.monotonic()
            response = api.post(url("password_reset"), {"login": login}, format="json")
            timings[login].append(time.monotonic() - started)
            bodies.add((response.status_code, json.dumps(response.json(), sort_keys=True)))
    assert len(bodies) == 1
    assert min(min(samples) for samples in timings.values()) >= 0.15
    known, unknown = (statistics.median(samples) for samples in timings.values())
    assert abs(known - unknown) < 0.1


def test_reset_by_code_is_single_use(api, user, mailoutbox):
    code = _reset_code(api, user, mailoutbox)
    assert len(code) >= 8
    stored = OneTimeToken.objects.get(user=user, purpose="password_reset")
    assert code not in (stored.code_hash, stored.token_hash)
    body = {"login": user.username, "code": code, "new_password": NEW_PASSWORD}
    assert api.post(url("password_reset_confirm"), body, format="json").status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    again = api.post(url("password_reset_confirm"), body, format="json")
    assert_problem(again, 400, "invalid_code")


def test_reset_code_expires_after_15_minutes(api, user, mailoutbox):
    code = _reset_code(api, user, mailoutbox)
    OneTimeToken.objects.filter(user=user).update(created_at=timezone.now() - timedelta(minutes=16))
    body = {"login": user.username, "code": code, "new_password": NEW_PASSWORD}
    assert_problem(
        api.post(url("password_reset_confirm"), body, format="json"), 400, "invalid_code"
    )


def test_reset_code_dies_after_five_wrong_tries(api, user, mailoutbox, settings):
    code = _reset_code(api, user, mailoutbox)
    wrong = {"login": user.username, "code": "WRONGCODE2", "new_password": NEW_PASSWORD}
    for _ in range(5):
        response = api.post(url("password_reset_confirm"), wrong, format="json")
        assert_problem(response, 400, "invalid_code")
    right = {**wrong, "code": code}
    assert_problem(
        api.post(url("password_reset_confirm"), right, format="json"), 400, "invalid_code"
    )
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_weak_password_keeps_code(api, user, mailoutbox):
    code = _reset_code(api, user, mailoutbox)
    weak = {"login": user.username, "code": code, "new_password": "short"}
    body = assert_problem(
        api.post(url("password_reset_confirm"), weak, format="json"), 400, "validation_error"
    )
    assert body["errors"][0]["field"] == "new_password"
    ok = {**weak, "new_password": NEW_PASSWORD}
    assert api.post(url("password_reset_confirm"), ok, format="json").status_code == 204
