"""Observing each request once: its id, its time, its route, its metric and its log line.

The request id comes from the proxy's ``X-Request-ID`` when it is sane, else is made here; it
is echoed in every response and added to every log record written while the request runs
(RequestIdFilter), so that a proxy's log, the portal's lines and a client's report meet.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from identity import metrics
from identity.net import client_ip

HEADER = "X-Request-ID"
# What a proxy's id may hold (a UUID, HAProxy's unique-id, base64): nothing that could break a
# log line or a header; anything else is replaced by a new id.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")
# accounts.services.sessions.browser.SESSION_ID_KEY: identity sits below accounts and reads the
# browser session's sid by this key (tests.identity asserts the two agree).
SESSION_SID_KEY = "_user_session_id"

request_id: ContextVar[str] = ContextVar("request_id", default="")
logger = logging.getLogger("identity.request")


def request_id_from(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (empty outside a request) to every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class ObserveRequestMiddleware:
    """First in MIDDLEWARE: sees every request and every response, whatever answered it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        rid = request_id_from(request)
        # Set, not reset on return: django.request logs a refusal after every middleware, and
        # request_finished (request_id_clear) ends it.
        request_id.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        seconds = time.perf_counter() - started
        route = route_of(request)
        metrics.request_observe(
            route=route, method=request.method or "", status=response.status_code, seconds=seconds
        )
        if logger.isEnabledFor(logging.INFO):
            _log_line(request, response, route=route, seconds=seconds)
        return response


def request_id_clear(**kwargs: Any) -> None:
    request_id.set("")


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``/api/v1/users/<uuid:public_id>/``), never the path."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return metrics.UNMATCHED
    return "/" + match.route


def _log_line(request: HttpRequest, response: HttpResponse, *, route: str, seconds: float) -> None:
    method = request.method if request.method in metrics.METHODS else "other"
    logger.info(
        "%s %s %s",
        method,
        route,
        response.status_code,
        extra={
            "route": route,
            "method": method,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2),
            "user": _user_public_id(request),
            "sid": _sid(request),
            "client_ip": client_ip(request),
        },
    )


def _user_public_id(request: HttpRequest) -> str | None:
    """The signed-in user's public id, when the request already knows it (never a query)."""
    user: Any = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    public_id = getattr(user, "public_id", None)
    return str(public_id) if public_id is not None else None


def _sid(request: HttpRequest) -> str | None:
    """The sign-in the request was made under: the token's ``sid`` (a first-party JWT's claim,
    a resolved OAuth token's attribute), else the browser session's."""
    auth = request.__dict__.get("auth")
    sid = getattr(auth, "sid", None)
    if sid is None and hasattr(auth, "payload"):
        sid = auth.payload.get("sid")
    if sid is None:
        session = getattr(request, "session", None)
        # Read only a session already loaded: the log line must not cost a query.
        if session is not None and hasattr(session, "_session_cache"):
            sid = session.get(SESSION_SID_KEY)
    return str(sid) if sid else None
