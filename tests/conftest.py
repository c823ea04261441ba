"""Shared fixtures: the factories, the usual users and the REST API signed in as one of them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests import factories


def pytest_configure(config: pytest.Config) -> None:
    # Outside production whitenoise serves from the finders; an absent STATIC_ROOT is expected.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


# "default" once pytest-django made the test database (a run of database-free tests has none).
_test_database: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _signing_key_kept(
    request: pytest.FixtureRequest, django_db_setup: None, django_db_blocker: Any
) -> Iterator[None]:
    """One signing key for the whole run, committed in the test database and put back after
    each flush of a transactional test (flush sends post_migrate), so every process of the run
    (this one, the servers it starts) signs with it and no test pays for a new RSA key.

    A run whose tests use no database (pytest-django then creates no test database) gets none:
    the key would go to the database DATABASE_URL names."""
    from pytest_django.fixtures import _get_databases_for_setup

    if "default" not in _get_databases_for_setup(request.session.items)[0]:
        yield
        return
    _test_database.append("default")
    from django.apps import apps
    from django.db.models.signals import post_migrate

    from identity import keys
    from identity.models import SigningKeyRecord

    with django_db_blocker.unblock():
        keys.ensure_signing_key()
        kept = list(SigningKeyRecord.objects.all())

    def put_back(using: str, **_: Any) -> None:
        if not SigningKeyRecord.objects.using(using).exists():
            SigningKeyRecord.objects.using(using).bulk_create(kept)

    identity = apps.get_app_config("identity")
    post_migrate.connect(put_back, sender=identity, dispatch_uid="tests-signing-key")
    yield
    post_migrate.disconnect(sender=identity, dispatch_uid="tests-signing-key")


@pytest.fixture(autouse=True)
def _signing_keys_settled(
    monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> Iterator[None]:
    """During a test the cached key set does not re-read the table by itself (a query-count
    budget must not catch the once-a-second recheck; tests of the recheck set it back). A test
    that changed the set (rolled back afterwards) leaves it to be read again before the next."""
    from identity import keys

    monkeypatch.setattr(keys, "RECHECK_SECONDS", math.inf)
    if keys._snapshot is None and _test_database:
        with django_db_blocker.unblock():
            keys.signing_keys()
    settled = keys._snapshot
    yield
    if keys._snapshot is not settled:
        keys.forget_snapshot()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Revoked-sid sets and rate-limit counters must not leak from one test into the next.
    yield
    cache.clear()


def redis_cache_use(settings: Any, location: str) -> None:
    """The portal's cache on the Redis at ``location``, as in production."""
    settings.CACHES = {
        "default": {
            "BACKEND": "identity.redis_cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }


@pytest.fixture
def redis_cache(settings: Any) -> Iterator[redis.Redis]:
    """The portal on a real Redis (skipped without one, failing in CI), emptied before and
    after; the fixture is a client of that Redis."""
    from tests.processes import redis_or_skip

    url = redis_or_skip()
    redis_cache_use(settings, url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def user_factory() -> type[factories.UserFactory]:
    return factories.UserFactory


@pytest.fixture
def profile_factory() -> type[factories.ProfileFactory]:
    return factories.ProfileFactory


@pytest.fixture
def email_domain_rule_factory() -> type[factories.EmailDomainRuleFactory]:
    return factories.EmailDomainRuleFactory


@pytest.fixture
def user_session_factory() -> type[factories.UserSessionFactory]:
    return factories.UserSessionFactory


@pytest.fixture
def login_event_factory() -> type[factories.LoginEventFactory]:
    return factories.LoginEventFactory


@pytest.fixture
def password() -> str:
    """The raw password every factory-made user has unless told otherwise."""
    return factories.DEFAULT_PASSWORD


@pytest.fixture
def user(db: None) -> User:
    """A verified, active customer; ``user.raw_password`` is its password."""
    return factories.UserFactory()


@pytest.fixture
def unverified_user(db: None) -> User:
    return factories.UserFactory(unverified=True)


@pytest.fixture
def admin_user(db: None) -> User:
    """A superuser and staff member (overrides pytest-django's, so admin_client uses it)."""
    return factories.UserFactory(superuser=True)


# -- the REST API, signed in through the first-party login API ---------------------------------


def _api_sign_in(user: User, password: str = factories.DEFAULT_PASSWORD) -> dict[str, Any]:
    response = APIClient().post(
        reverse("api:accounts:login"), {"login": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _bearer_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api() -> APIClient:
    """An anonymous REST API client."""
    return APIClient()


@pytest.fixture
def api_tokens() -> Callable[..., dict[str, Any]]:
    """``api_tokens(user, password=...)``: a new sign-in through the login API (asserted to
    succeed); its token response (``access_token``, ``refresh_token``, ``id_token``...)."""
    return _api_sign_in


@pytest.fixture
def bearer_client() -> Callable[[str], APIClient]:
    """``bearer_client(token)``: an API client sending ``Authorization: Bearer <token>``, for a
    first-party or an OAuth access token (or anything a test wants refused)."""
    return _bearer_client


@pytest.fixture
def signed_in_api() -> Callable[..., APIClient]:
    """``signed_in_api(user, password=...)``: an API client with the access token of a new
    sign-in of ``user`` through the login API."""

    def signed_in(user: User, password: str = factories.DEFAULT_PASSWORD) -> APIClient:
        return _bearer_client(_api_sign_in(user, password)["access_token"])

    return signed_in


@pytest.fixture
def user_api(user: User, signed_in_api: Callable[..., APIClient]) -> APIClient:
    return signed_in_api(user)


@pytest.fixture
def admin_api(admin_user: User, signed_in_api: Callable[..., APIClient]) -> APIClient:
    return signed_in_api(admin_user)


@pytest.fixture
def totp_user(user: User) -> tuple[User, Any]:
    """``user`` with a confirmed authenticator app: (user, app); ``app.now()`` is a code and
    ``app.recovery_codes`` the set enrolment gave."""
    from tests.mfa import totp_enrol

    return user, totp_enrol(user)
