"""Sign-in by username or email, case-insensitively, with a constant-time miss."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.http import HttpRequest

from accounts.models import Profile, User
from accounts.selectors import user_get_by_login
from identity.postgres import prepared_cursor

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

    On Postgres one prepared statement built once from the models' own fields: compiling the
    equivalent queryset cost more CPU than the database spends answering it. Other databases
    (SQLite for ``make run``) take the selector.
    """
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    alias = router.db_for_read(User)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return user_get_by_login(login=login)
    with prepared_cursor(connection) as cursor:
        cursor.execute(_login_sql(alias, "email" if "@" in login else "username"), [login])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(User._meta.concrete_fields)
    user = User.from_db(alias, _attnames(User), row[:split])
    profile = (
        None if row[split] is None else Profile.from_db(alias, _attnames(Profile), row[split:])
    )
    # What select_related("profile") leaves: user.profile costs no query, even when missing.
    Profile._meta.get_field("user").remote_field.set_cached_value(user, profile)
    if profile is not None:
        Profile._meta.get_field("user").set_cached_value(profile, user)
    return user


@functools.cache
def _attnames(model: type[Any]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@functools.cache
def _login_sql(alias: str, column: str) -> str:
    """lower(column) = lower(%s): what the case-insensitive unique indexes serve (one row)."""
    quote = connections[alias].ops.quote_name
    columns = ", ".join(
        f"{table}.{quote(field.column)}"
        for model, table in ((User, "u"), (Profile, "p"))
        for field in model._meta.concrete_fields
    )
    return (
        f"SELECT {columns} FROM {quote(User._meta.db_table)} u"  # noqa: S608 - model metadata
        f" LEFT OUTER JOIN {quote(Profile._meta.db_table)} p ON p.user_id = u.id"
        f" WHERE lower(u.{quote(User._meta.get_field(column).column)}) = lower(%s) LIMIT 1"
    )
