"""One rate limiter: a page and its API twin obey the same limits of settings.RATE_LIMITS, in
the same counters, with the same keys."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from identity.ratelimit import Rate, rate_get, rate_limits_check, rate_parse
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
STRANGER, OWNER = "198.51.100.7", "203.0.113.8"
NEW_PASSWORD = "a brand new passphrase 7"
SHARED = ["signup", "login", "password_reset", "verify_resend"]

# scope -> (page URL name, form data; API URL name, JSON body), from the user and a counter.
ENTRY_POINTS = {
    "signup": (
        "accounts:signup",
        lambda user, n: {
            "username": f"newcomer{n}",
            "email": "Newcomer@Example.com",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
        "api:sso:signup",
        lambda user, n: {
            "username": f"newcomer{n}",
            "email": "Newcomer@Example.com",
            "password": NEW_PASSWORD,
        },
    ),
    "login": (
        "accounts:login",
        lambda user, n: {"username": user.username, "password": DEFAULT_PASSWORD},
        "api:accounts:login",
        lambda user, n: {"login": user.username, "password": DEFAULT_PASSWORD},
    ),
    "password_reset": (
        "accounts:password_reset",
        lambda user, n: {"login": user.username},
        "api:accounts:password_reset",
        lambda user, n: {"login": user.username},
    ),
    "verify_resend": (
        "accounts:verify_email_resend",
        lambda user, n: {"email": user.email},
        "api:accounts:verify_email_resend",
        lambda user, n: {"email": user.email},
    ),
}


def _send(channel: str, scope: str, user, n: int = 0, ip: str = STRANGER):
    page, form, api, body = ENTRY_POINTS[scope]
    if channel == "page":  # a fresh browser each time: a signed-in one skips the form
        return Client().post(reverse(page), form(user, n), REMOTE_ADDR=ip)
    return APIClient().post(reverse(api), body(user, n), format="json", REMOTE_ADDR=ip)


def _allowed(channel: str, scope: str, user, n: int = 0, ip: str = STRANGER) -> None:
    response = _send(channel, scope, user, n, ip)
    assert response.status_code != 429, response.content


def _refused_for(channel: str, response) -> int:
    """Seconds of Retry-After of a refusal as the channel writes it: the 429 page, or the
    problem body with code ``throttled``."""
    if channel == "api":
        assert_problem(response, 429, "throttled")
    else:
        assert response.status_code == 429
        assert "Too many requests" in response.content.decode()
    return int(response["Retry-After"])


def _limits(settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("scope", SHARED)
def test_the_identifier_limit_from_settings_holds_on_page_and_api(user, scope, channel):
    """With the shipped settings: the (N+1)th call for one account from one address is refused,
    told to come back when the window lets the oldest call go."""
    rate = rate_get(f"{scope}_identifier")
    assert rate is not None
    assert rate.requests < rate_get(scope).requests  # so that this limit is the one refusing
    for n in range(rate.requests):
        _allowed(channel, scope, user, n)
    wait = _refused_for(channel, _send(channel, scope, user, rate.requests))
    assert rate.seconds - 60 < wait <= rate.seconds


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("scope", SHARED)
def test_changing_the_setting_changes_the_ip_limit_on_page_and_api(settings, user, scope, channel):
    _limits(settings, **{scope: "2/15min", f"{scope}_identifier": "100/hour"})
    for n in range(2):
        _allowed(channel, scope, user, n)
    wait = _refused_for(channel, _send(channel, scope, user, 2))
    assert 14 * 60 < wait <= 15 * 60


@pytest.mark.parametrize("scope", SHARED)
def test_a_page_and_its_api_twin_spend_one_allowance(settings, user, scope):
    _limits(settings, **{scope: "2/hour"})
    _allowed("page", scope, user, 0)
    _allowed("api", scope, user, 1)
    _refused_for("page", _send("page", scope, user, 2))
    _refused_for("api", _send("api", scope, user, 3))


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("scope", ["login", "password_reset", "verify_resend"])
def test_a_stranger_cannot_spend_the_owners_allowance_on_page_or_api(
    settings, user, scope, channel
):
    _limits(settings, **{f"{scope}_identifier": "1/hour"})
    _allowed(channel, scope, user, 0, ip=STRANGER)
    _refused_for(channel, _send(channel, scope, user, 1, ip=STRANGER))
    _allowed(channel, scope, user, 2, ip=OWNER)


@pytest.mark.parametrize("channel", ["page", "api"])
def test_signup_counts_an_address_from_every_ip_on_page_and_api(settings, user, channel):
    _limits(settings, signup_identifier="1/hour")
    _allowed(channel, "signup", user, 0, ip=STRANGER)
    _refused_for(channel, _send(channel, "signup", user, 1, ip=OWNER))


def test_a_page_takes_one_cache_read_and_one_write_for_both_limits(user, throttle_cache_calls):
    """As on the API: the IP and the identifier limits of a reset cost two round trips."""
    calls = throttle_cache_calls
    _allowed("page", "password_reset", user)
    assert calls == ["get_many", "set_many"]


def test_pages_let_calls_through_while_the_cache_is_down(settings, user, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    _limits(settings, password_reset="1/hour", password_reset_identifier="1/hour")
    monkeypatch.setattr(cache, "get_many", down)
    for n in range(3):
        assert _send("page", "password_reset", user, n).status_code == 302


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/min", Rate(requests=10, seconds=60)),
        ("5/hour", Rate(requests=5, seconds=3600)),
        ("5/15min", Rate(requests=5, seconds=900)),
        ("3/s", Rate(requests=3, seconds=1)),
        ("1/day", Rate(requests=1, seconds=86400)),
        (" 100000 / min ", Rate(requests=100000, seconds=60)),
        ("0/hour", Rate(requests=0, seconds=3600)),
    ],
)
def test_rates_are_written_as_drf_writes_them(text, rate):
    assert rate_parse(text) == rate


@pytest.mark.parametrize("text", ["10", "ten/min", "10/fortnight", "10/5", "-1/min", "", "5/0min"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValueError, match="N/period"):
        rate_parse(text)


def test_the_environment_sets_the_limits():
    script = "from identity import settings as s; print(s.RATE_LIMITS['login'])"
    env = {**os.environ, "DJANGO_ENV": "test", "API_THROTTLE_LOGIN": "3/min"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3/min"


def _python_sources() -> list[Path]:
    """The project's own Python files (not the venv, caches or migrations)."""
    return [
        path
        for top in ("identity", "accounts", "authz", "sso", "bench", "tests")
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts and path != Path(__file__).resolve()
    ]


def test_no_code_keeps_a_second_set_of_limits():
    """Limits live in RATE_LIMITS only, and how an identifier limit counts is the limiter's:
    no DRF rate table, no page table, no view deciding per-IP counting for itself."""
    stale = ("DEFAULT_THROTTLE_RATES", "PAGE_RATE_LIMITS", "throttle_identifier_per_ip")
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_sources()
        for name in stale
        if name in path.read_text()
    ]
    assert not found, found


def _named_scopes(tree: ast.AST) -> list[str]:
    """The limit named by each ``throttle_scope = "..."`` and ``page_limit(scope="...")``."""
    scopes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if "throttle_scope" in targets and node.value.value:
                scopes.append(node.value.value)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "page_limit":
            scopes += [k.value.value for k in node.keywords if k.arg == "scope"]
    return scopes


def test_every_limit_a_page_or_api_view_names_is_in_the_settings(settings):
    apps = ("accounts", "authz", "identity", "sso")
    named = {
        scope
        for app in apps
        for path in (ROOT / app).rglob("*.py")
        for scope in _named_scopes(ast.parse(path.read_text()))
    }
    assert {"signup", "login", "password_reset", "verify_resend", "refresh"} <= named
    assert named <= set(settings.RATE_LIMITS)


def test_a_malformed_rate_in_the_settings_fails_the_system_check(settings):
    assert rate_limits_check() == []
    _limits(settings, login="30 a minute")
    assert "identity.E001" in [error.id for error in run_checks()]
