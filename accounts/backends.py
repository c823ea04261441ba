"""Sign-in by username or email, case-insensitively, with a constant-time miss."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import user_get_by_login

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
            user = user_get_by_login(login=username)
        if user is None:
            # Hash anyway so that an unknown login takes as long as a wrong password.
            User().set_password(password)
            return None
        # An inactive user with the right password is returned so that the sign-in service
        # can say so and record it; sessions of inactive users still fail in get_user().
        return user if user.check_password(password) else None
