"""Read queries on accounts reused by pages, API and admin."""

from __future__ import annotations

from accounts.models import User


def user_get_by_login(*, login: str) -> User | None:
    """The user whose username, or email when ``login`` has an "@", equals it ignoring case."""
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    field = "email__iexact" if "@" in login else "username__iexact"
    return User.objects.filter(**{field: login}).select_related("profile").first()
