"""What one sign-in costs: one password hash, and the hot-path SQL that replaces the ORM's."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.hashers import get_hasher
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import user_for_login
from accounts.lockout import LockoutHandler
from accounts.models import LoginEvent, UserSession
from accounts.selectors import user_get_by_login
from identity.postgres import rows_insert
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def hash_calls(monkeypatch, settings) -> Counter:
    """The tests' hasher only, with its password hashes counted."""
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[:1]
    return _counted(monkeypatch, type(get_hasher()))


def _counted(monkeypatch, hasher_class: type) -> Counter:
    """Counts password hashes: verify() calls, and encode() calls made outside a verify()
    (MD5's and PBKDF2's verify() encode once themselves; that is the same hash)."""
    calls: Counter = Counter()
    verifying: list[bool] = []
    original_verify, original_encode = hasher_class.verify, hasher_class.encode

    def verify(self, *args, **kwargs):
        calls["verify"] += 1
        verifying.append(True)
        try:
            return original_verify(self, *args, **kwargs)
        finally:
            verifying.pop()

    def encode(self, *args, **kwargs):
        if not verifying:
            calls["encode"] += 1
        return original_encode(self, *args, **kwargs)

    monkeypatch.setattr(hasher_class, "verify", verify)
    monkeypatch.setattr(hasher_class, "encode", encode)
    return calls


def _sign_in_status(channel: str, login: str, password: str) -> int:
    if channel == "page":
        body = {"username": login, "password": password}
        return Client().post(reverse("accounts:login"), body).status_code
    body = {"login": login, "password": password}
    url = reverse("api:accounts:login")
    return Client().post(url, body, content_type="application/json").status_code


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("right password", {"verify": 1}),
        ("wrong password", {"verify": 1}),
        # The dummy hash of an unknown login: as long as a wrong password, never more.
        ("unknown login", {"encode": 1}),
    ],
)
def test_sign_in_runs_exactly_one_password_hash(user_factory, hash_calls, channel, case, expected):
    user = user_factory()
    login = "nobody-here" if case == "unknown login" else user.username
    password = "wrong password" if case == "wrong password" else DEFAULT_PASSWORD
    hash_calls.clear()  # the factory hashed the password once
    status = _sign_in_status(channel, login, password)
    assert status in {200, 302} if case == "right password" else status in {200, 401}
    assert dict(hash_calls) == expected


def test_sign_in_runs_one_argon2id_verify_in_production(user_factory, monkeypatch, settings):
    settings.PASSWORD_HASHERS = settings.PRODUCTION_PASSWORD_HASHERS
    user = user_factory()
    hash_calls = _counted(monkeypatch, type(get_hasher()))
    assert _sign_in_status("api", user.username, DEFAULT_PASSWORD) == 200
    assert dict(hash_calls) == {"verify": 1}
    assert user.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize(
    "login", ["Carol", "carol", "CAROL", "carol@example.com", " Carol@Example.COM "]
)
def test_user_for_login_matches_the_selector(user_factory, login):
    user = user_factory(username="Carol", email="carol@example.com")
    found = user_for_login(login=login)
    expected = user_get_by_login(login=login)
    assert found == expected == user
    fields = [f.attname for f in type(user)._meta.concrete_fields]
    assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
    with CaptureQueriesContext(connection) as queries:
        assert found.profile == expected.profile  # attached, as select_related leaves it
    assert len(queries) == 0


@pytest.mark.parametrize("login", ["", "   ", "nobody", "nobody@example.com", "x" * 255])
def test_user_for_login_finds_nobody(user_factory, login):
    user_factory()
    assert user_for_login(login=login) is None


def test_user_for_login_without_a_profile(user_factory):
    user = user_factory()
    user.profile.delete()
    found = user_for_login(login=user.username)
    assert found == user
    with CaptureQueriesContext(connection) as queries, pytest.raises(AttributeError):
        found.profile  # noqa: B018 - the missing profile is known without a query
    assert len(queries) == 0


def _axes_request(ip: str = "203.0.113.9"):
    request = RequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR=ip)
    AxesProxyHandler.update_request(request)
    return request


def _wrong_password(login: str, ip: str = "203.0.113.9") -> None:
    Client(REMOTE_ADDR=ip).post(
        reverse("api:accounts:login"),
        {"login": login, "password": "wrong"},
        content_type="application/json",
    )


def test_failure_count_matches_axes_own(user_factory):
    user = user_factory()
    for _ in range(3):
        _wrong_password(user.username)
    _wrong_password(user.username, ip="198.51.100.2")
    for ip, login, expected in [
        ("203.0.113.9", user.username, 3),
        ("198.51.100.2", user.username, 1),
        ("203.0.113.9", "someone-else", 0),
    ]:
        credentials = {"username": login}
        request = _axes_request(ip)
        ours = LockoutHandler().get_failures(request, credentials)
        assert ours == AxesDatabaseHandler().get_failures(request, credentials) == expected


def test_failure_count_forgets_attempts_past_the_cool_off(user_factory, settings):
    user = user_factory()
    request = _axes_request()
    for _ in range(2):
        _wrong_password(user.username)
    request.axes_attempt_time = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(1)
    assert LockoutHandler().get_failures(request, {"username": user.username}) == 0


def test_rows_insert_writes_what_save_would(user_factory):
    user = user_factory()
    event = LoginEvent(user=user, identifier=user.username, outcome="success", channel="api")
    session = UserSession(user=user, channel="api", expires_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        rows_insert(event, session)
    assert len(queries) == 1  # one statement: both rows or neither
    assert event.pk is not None
    assert not event._state.adding
    assert LoginEvent.objects.get(pk=event.pk).identifier == user.username
    stored = UserSession.objects.get(pk=session.pk)
    assert stored.updated_at == session.updated_at  # auto_now filled in, as save() does
    assert stored.user_id == user.pk
