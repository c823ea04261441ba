"""Not-found in the API, one way: selectors return None, views call ``get_or_404``."""

from __future__ import annotations

from typing import TypeVar

from identity.errors import ApplicationError

T = TypeVar("T")


class NotFound(ApplicationError):
    """The resource does not exist or the caller may not see it: one answer for both, so a
    404 never tells an outsider that someone else's object exists."""

    code = "not_found"
    status = 404
    message = "Not found."


def get_or_404(value: T | None, *, error: type[ApplicationError] = NotFound) -> T:
    """``value`` itself, or ``error`` (the app's own NotFound, with its code) when it is None."""
    if value is None:
        raise error()
    return value
