"""Fixtures for the hardening tests: throttles lifted, and a helper that races threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import connection
from rest_framework.settings import api_settings

T = TypeVar("T")


@pytest.fixture
def no_throttles(settings: Any) -> Iterator[None]:
    """Throttles would answer most racing requests with 429 and hide the race itself."""
    rates = dict.fromkeys(api_settings.DEFAULT_THROTTLE_RATES, "100000/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0
    yield
    api_settings.reload()


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
