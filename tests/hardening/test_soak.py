"""The soak (tests/hardening/soak.py) for SOAK_SECONDS (20 in CI) against the test database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from tests.hardening import soak
from tests.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)

SOAK_CACHE_URL = "redis://127.0.0.1:6379/10"


def test_mixed_workload_has_no_5xx_no_lost_writes_and_flat_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        redis.Redis.from_url(SOAK_CACHE_URL, socket_connect_timeout=1).flushdb()
        cache_url = SOAK_CACHE_URL
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI at {SOAK_CACHE_URL}")
        cache_url = "locmemcache://soak"  # per worker; the workload needs no shared cache
    seconds = float(os.environ.get("SOAK_SECONDS", "20"))
    clients = int(os.environ.get("SOAK_CLIENTS", "50"))

    status = soak.run(database_url(), cache_url, seconds=seconds, clients=clients, tmp=tmp_path)

    report = capsys.readouterr().out
    assert status == 0, report
    assert "statuses" in report
