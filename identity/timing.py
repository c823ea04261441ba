"""Answers that must take the same time whatever the outcome (no account enumeration)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings


@contextmanager
def response_floor(seconds: float | None = None) -> Iterator[None]:
    """Makes the block last at least ``seconds`` (PASSWORD_RESET_MIN_RESPONSE_MS by default).

    Sending an email takes time that a request for an unknown account does not: padding both
    to one floor keeps the answer's timing from telling whether the account exists.
    """
    floor = settings.PASSWORD_RESET_MIN_RESPONSE_MS / 1000 if seconds is None else seconds
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = started + floor - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
