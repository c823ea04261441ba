"""Sign-in by username or email, case-insensitively, with a constant-time miss."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import user_get_by_login
from identity.postgres.statements import Select, fast_path, select_statement

# Where the sign-in service leaves the (login, user) it already looked up.
RESOLVED_LOGIN_ATTR = "_resolved_login"


class LoginBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        resolved = getattr(request, RESOLVED_LOGIN_ATTR, None)
        if resolved is not None and resolved[0] == username:
            user = resolved[1]
        else:
            user = user_for_login(login=username)
        if user is None:
            # Hash anyway so that an unknown login takes as long as a wrong password.
            User().set_password(password)
            return None
        if user.is_service_account:
            # An application's service account signs in through no channel.
            User().set_password(password)
            return None
        # An inactive user with the right password is returned so that the sign-in service
        # can say so and record it; sessions of inactive users still fail in get_user().
        return user if user.check_password(password) else None

    def user_can_authenticate(self, user: Any) -> bool:
        # Also what get_user() asks of a browser session: a service account has none.
        return super().user_can_authenticate(user) and not getattr(
            user, "is_service_account", False
        )


def user_for_login(*, login: str) -> User | None:
    """``accounts.selectors.user_get_by_login`` for the sign-in hot path, profile attached.

    On Postgres one prepared statement built once from the models' own fields
    (identity.postgres.statements): compiling the equivalent queryset cost more CPU than the
    database spends answering it. Other databases (SQLite for ``make run``) take the selector.
    """
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    alias = router.db_for_read(User)
    if not fast_path(connections[alias]):
        return user_get_by_login(login=login)
    statement = _login_statement(alias, "email" if "@" in login else "username")
    row = statement.row([login])
    return None if row is None else statement.instances(row)[0]


@functools.cache
def _login_statement(alias: str, column: str) -> Select:
    """lower(column) = lower(%s): what the case-insensitive unique indexes serve (one row)."""
    return select_statement(
        User,
        "u",
        related=(("profile", "p"),),
        where=f"lower({{u.{column}}}) = lower(%s)",
        tail="LIMIT 1",
        using=alias,
    )
