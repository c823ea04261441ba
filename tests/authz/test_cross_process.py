"""A change made in one process is the next answer in another, through a shared Redis cache."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from authz import services

REDIS = ("127.0.0.1", 6379)
REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own, flushed by this test
ROOT = Path(__file__).resolve().parents[2]

# The other process: answers {"user": pk, "code": ...} lines with the check and its query count.
WORKER = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from accounts.models import User
from authz.selectors import user_has_permission
for line in sys.stdin:
    ask = json.loads(line)
    user = User.objects.get(pk=ask["user"])
    with CaptureQueriesContext(connection) as queries:
        allowed = user_has_permission(user=user, code=ask["code"])
    print(json.dumps({"allowed": allowed, "queries": len(queries)}), flush=True)
"""


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "CACHE_URL": REDIS_URL,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def check(self, user_id: int, code: str) -> dict:
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write(json.dumps({"user": user_id, "code": code}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def shared_cache(settings) -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("the second process needs a server database")
    if not redis_answers():
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def worker(shared_cache) -> Iterator[Worker]:
    started = Worker()
    yield started
    started.close()


@pytest.mark.django_db(transaction=True)
def test_changes_reach_another_process_on_its_next_check(
    worker, user, billing_clerk, billing_read
) -> None:
    assert worker.check(user.pk, "billing.read") == {"allowed": False, "queries": 2}
    assert worker.check(user.pk, "billing.read") == {"allowed": False, "queries": 0}

    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    assert worker.check(user.pk, "billing.read")["allowed"] is True
    assert worker.check(user.pk, "billing.read") == {"allowed": True, "queries": 0}

    services.permission_create(code="billing.refund")
    services.role_update(role=billing_clerk, permissions=["billing.refund"])
    assert worker.check(user.pk, "billing.read")["allowed"] is False
    assert worker.check(user.pk, "billing.refund")["allowed"] is True

    lead = services.role_create(name="billing-lead", permissions=["billing.read"])
    services.role_update(role=billing_clerk, included_roles=["billing-lead"])
    assert worker.check(user.pk, "billing.read")["allowed"] is True
    services.role_delete(role=lead)
    assert worker.check(user.pk, "billing.read")["allowed"] is False

    services.role_unassign(user=user, role=billing_clerk)
    assert worker.check(user.pk, "billing.refund")["allowed"] is False
