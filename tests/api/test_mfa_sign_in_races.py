"""Races on the second sign-in step, with real threads on real Postgres: one mfa_token, one
TOTP code, one recovery code each finish at most one sign-in."""

from __future__ import annotations

from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import LoginEvent, LoginOutcome, UserSession
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.hardening.conftest import race
from tests.mfa import totp_enrol, totp_fresh_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_throttles")]

RACERS = 20


@pytest.fixture
def no_throttles(settings) -> None:
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "100000/min")
    settings.AXES_FAILURE_LIMIT = 1000  # the race, not the lockout, decides here


def post(name: str, body: dict, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        reverse(f"api:accounts:{name}"), body, content_type="application/json"
    )


def mfa_token(user) -> str:
    response = post("login", {"login": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403, response.content
    return response.json()["mfa_token"]


def test_login_mfa_one_token_and_one_totp_code_race_to_one_sign_in() -> None:
    user = UserFactory()
    app = totp_enrol(user)
    token, code = mfa_token(user), totp_fresh_code(app)

    def second_step(_i: int) -> int:
        return post("login_mfa", {"mfa_token": token, "method": "totp", "code": code}).status_code

    statuses = Counter(race(RACERS, second_step))

    assert statuses[200] == 1, statuses
    assert set(statuses) <= {200, 400}
    assert UserSession.objects.filter(user=user).count() == 1
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS).count() == 1


def test_login_mfa_one_totp_code_on_many_tokens_signs_in_once() -> None:
    """A code seen over someone's shoulder, raced from many pending steps: one sign-in."""
    user = UserFactory()
    app = totp_enrol(user)
    tokens = [mfa_token(user) for _ in range(RACERS)]
    code = totp_fresh_code(app)

    def second_step(i: int) -> int:
        body = {"mfa_token": tokens[i], "method": "totp", "code": code}
        return post("login_mfa", body).status_code

    statuses = Counter(race(RACERS, second_step))

    assert statuses == {200: 1, 400: RACERS - 1}
    assert UserSession.objects.filter(user=user).count() == 1


def test_login_mfa_one_recovery_code_on_many_tokens_signs_in_once() -> None:
    user = UserFactory()
    code = totp_enrol(user).recovery_codes[0]
    tokens = [mfa_token(user) for _ in range(RACERS)]

    def second_step(i: int) -> int:
        body = {"mfa_token": tokens[i], "method": "recovery_code", "code": code}
        return post("login_mfa", body).status_code

    statuses = Counter(race(RACERS, second_step))

    assert statuses == {200: 1, 400: RACERS - 1}
    assert UserSession.objects.filter(user=user).count() == 1
    assert UserSession.objects.get(user=user).amr == "pwd rc"
