"""Fixtures for the hardening tests: throttles lifted, and a helper that races threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.db import connection

T = TypeVar("T")


@pytest.fixture
def no_throttles(settings: Any) -> None:
    """Throttles would answer most racing requests with 429 and hide the race itself."""
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "100000/min")
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Runs ``action(i)`` in ``count`` threads released together by a barrier; the results.

    Each thread has its own database connection (Django's are per thread) and closes it at
    the end, so that the transactional test database can be flushed afterwards.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = action(index)
        except BaseException as error:  # reported by the caller, never swallowed
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        raise errors[0]
    return results
