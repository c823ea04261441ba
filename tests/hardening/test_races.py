"""Races on real Postgres with real threads: every single-use secret is used once, every
unique row is created once, and no failed sign-in is lost from the lockout count."""

from __future__ import annotations

from collections import Counter

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import AccessToken, RefreshToken

from accounts.models import Channel, LoginEvent, OneTimeToken, Profile, User, UserSession
from accounts.services.secrets import secret_issue
from tests.factories import UserFactory
from tests.hardening.conftest import race
from tests.sso.conftest import authorize, exchange, pkce_pair, query, register, sign_in
from tests.sso.conftest import refresh as oauth_refresh

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_throttles")]

RACERS = 20
NEW_PASSWORD = "a brand new passphrase 2024"


def post_json(path: str, data: dict) -> int:
    return Client().post(path, data, content_type="application/json").status_code


def test_parallel_sign_ups_with_one_email_make_one_account() -> None:
    def sign_up(i: int) -> int:
        body = {"username": f"racer{i}", "email": "Same@Example.com", "password": NEW_PASSWORD}
        return post_json(reverse("api:sso:signup"), body)

    statuses = Counter(race(RACERS, sign_up))

    assert statuses == {201: 1, 409: RACERS - 1}
    assert User.objects.filter(email__iexact="same@example.com").count() == 1
    assert Profile.objects.count() == User.objects.count() == 1


def test_parallel_sign_ups_with_one_username_make_one_account() -> None:
    def sign_up(i: int) -> int:
        body = {"username": "Racer", "email": f"r{i}@example.com", "password": NEW_PASSWORD}
        return post_json(reverse("api:sso:signup"), body)

    statuses = Counter(race(RACERS, sign_up))

    assert statuses == {201: 1, 409: RACERS - 1}
    assert User.objects.filter(username__iexact="racer").count() == 1
    assert Profile.objects.count() == 1


def test_parallel_uses_of_one_authorization_code_issue_tokens_once() -> None:
    owner, user = UserFactory(), UserFactory()
    rp = register(owner)
    browser = Client()
    browser.force_login(user)
    verifier, challenge = pkce_pair()
    code = query(authorize(browser, rp, challenge=challenge))["code"]

    statuses = Counter(race(RACERS, lambda _: exchange(Client(), rp, code, verifier).status_code))

    assert statuses[200] == 1
    assert statuses[400] == RACERS - 1
    # The replays revoke what the one success issued (RFC 6749 §4.1.2); never a second set.
    assert UserSession.objects.filter(user=user, channel=Channel.OAUTH).count() == 1
    assert AccessToken.objects.filter(user=user).count() <= 1
    assert RefreshToken.objects.filter(user=user).count() == 1


def test_parallel_uses_of_one_reset_code_change_the_password_once() -> None:
    user = UserFactory()
    _, code = secret_issue(
        user=user,
        purpose=OneTimeToken.Purpose.PASSWORD_RESET,
        ttl=settings.PASSWORD_RESET_LINK_TTL,
        with_code=True,
    )

    def confirm(i: int) -> int:
        body = {"login": user.username, "code": code, "new_password": f"{NEW_PASSWORD} {i}"}
        return post_json(reverse("api:accounts:password_reset_confirm"), body)

    results = race(RACERS, confirm)
    statuses = Counter(results)

    assert statuses == {204: 1, 400: RACERS - 1}
    winner = results.index(204)
    user.refresh_from_db()
    assert user.check_password(f"{NEW_PASSWORD} {winner}")
    token = OneTimeToken.objects.get(user=user)
    assert token.used_at is not None
    assert token.code_attempts == 0  # a lost race is not a wrong guess


def test_parallel_uses_of_one_verification_link_verify_once() -> None:
    user = UserFactory(unverified=True)
    raw, _ = secret_issue(
        user=user, purpose=OneTimeToken.Purpose.VERIFY_EMAIL, ttl=settings.EMAIL_VERIFICATION_TTL
    )

    statuses = Counter(
        race(RACERS, lambda _: post_json(reverse("api:accounts:verify_email"), {"token": raw}))
    )

    assert statuses[200] == 1
    assert statuses[200] + statuses[400] == RACERS, statuses
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_parallel_uses_of_one_refresh_token_rotate_once(api_tokens) -> None:
    user = UserFactory()
    refresh_token = api_tokens(user, user.raw_password)["refresh_token"]

    statuses = Counter(
        race(
            RACERS,
            lambda _: post_json(reverse("api:accounts:refresh"), {"refresh_token": refresh_token}),
        )
    )

    # No grace period: one rotation wins; the others are reuse, which ends the sign-in.
    assert statuses == {200: 1, 401: RACERS - 1}
    assert UserSession.objects.filter(user=user).count() == 1
    assert UserSession.objects.get(user=user).revoked_at is not None


def test_parallel_uses_of_one_oauth_refresh_token_rotate_once() -> None:
    owner, user = UserFactory(), UserFactory()
    rp = register(owner)
    refresh_token = sign_in(Client(), rp, user)["refresh_token"]

    statuses = Counter(
        race(RACERS, lambda _: oauth_refresh(Client(), rp, refresh_token).status_code)
    )

    assert statuses == {200: 1, 400: RACERS - 1}
    # The rotated token plus the one issued by the single winner; never a second child.
    assert RefreshToken.objects.filter(user=user).count() == 2
    assert UserSession.objects.filter(user=user, channel=Channel.OAUTH).count() == 1


def test_parallel_wrong_passwords_are_all_counted_by_the_lockout() -> None:
    user = UserFactory()

    def wrong(i: int) -> int:
        body = {"login": user.username, "password": f"wrong password {i}"}
        return post_json(reverse("api:accounts:login"), body)

    statuses = Counter(race(RACERS, wrong))

    assert set(statuses) <= {401, 429}, statuses
    assert statuses[429] >= 1
    attempt = AccessAttempt.objects.get(username=user.username)
    assert attempt.failures_since_start == RACERS
    assert AccessAttempt.objects.count() == 1
    assert LoginEvent.objects.filter(user=user).count() == RACERS
    # Locked now, even with the right password.
    right = {"login": user.username, "password": user.raw_password}
    assert post_json(reverse("api:accounts:login"), right) == 429
