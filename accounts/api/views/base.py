"""Bases for the account API views."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.errors import AccountLocked
from accounts.lockout import retry_after_seconds
from accounts.models import Channel, User
from accounts.services import user_authenticate
from identity.api.scopes import NO_OAUTH
from identity.api.throttles import AUTH_THROTTLES

# For responses that carry tokens or secrets: Cache-Control no-store (RFC 6749 §5.1,
# ASVS V8.2.1), so that no browser or proxy cache keeps a copy.
no_store = method_decorator(never_cache, name="dispatch")


class PublicApi(APIView):
    """An entry point for anonymous clients: a stale Authorization header must not block it."""

    oauth_scopes = NO_OAUTH
    authentication_classes = ()
    permission_classes = (AllowAny,)


class ThrottledPublicApi(PublicApi):
    """Limited as its page twin is (identity.ratelimit): ``throttle_scope`` names the limit,
    ``throttle_identifier_field`` the request field that names the account."""

    throttle_classes = AUTH_THROTTLES
    throttle_scope = ""
    throttle_identifier_field: str | None = None


def api_authenticate(
    request: Request, *, login: str, password: str, allow_password_change: bool = False
) -> User:
    """user_authenticate on Django's HttpRequest, which django-axes reads and flags."""
    try:
        return user_authenticate(
            request=request._request,
            login=login,
            password=password,
            channel=Channel.API,
            allow_password_change=allow_password_change,
        )
    except AccountLocked as error:
        error.retry_after = retry_after_seconds(request._request)  # type: ignore[attr-defined]
        raise
