"""django-axes hooks: which name a failure counts against, and what a locked pair sees."""

from __future__ import annotations

import functools
import math
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import (
    get_client_parameters,
    get_client_username,
    get_cool_off,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django.db import connections, router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from identity import metrics
from identity.postgres.statements import Statement, fast_path, sql_statement

# Set by the sign-in service: the account a login resolves to, so that failures typed as
# "alice", "ALICE" or "alice@example.com" and the reset on success all share one counter.
LOCKOUT_KEY_ATTR = "_lockout_key"


def lockout_key(*, login: str, user: Any) -> str:
    return (user.username if user is not None else login).strip().lower()[:254]


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The counter a sign-in attempt counts against: the account's username when known."""
    stashed = getattr(request, LOCKOUT_KEY_ATTR, None)
    if stashed is not None:
        return stashed
    value = (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("username", "") if request.method == "POST" else ""
    return str(value).strip().lower()[:254]


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler, minus two queries on every sign-in that had no failures, and
    with the failure count of every sign-in in a prepared statement."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        failures = _failures_counted(request, credentials)
        if failures is None:
            failures = super().get_failures(request, credentials)
        request._lockout_failures = failures  # type: ignore[attr-defined]
        return failures

    def user_login_failed(
        self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # The failure that reaches the limit locks the pair; later ones (each renewing the
        # cool-off) are sign-ins refused while locked, not new lockouts.
        failures = getattr(request, "axes_failures_since_start", None)
        if failures is not None and failures == get_failure_limit(request, credentials):
            metrics.lockout_record()
            _lockout_event_record(request)

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        # Nothing to reset or clean when the lockout check just counted no failures.
        if getattr(request, "_lockout_failures", None) == 0:
            return
        super().user_logged_in(sender, request, user, **kwargs)


def _lockout_event_record(request: HttpRequest) -> None:
    """lockout.started, once per lock (the failure that reaches the limit): the account when
    the identifier named one, the channel and the client IP; never what was typed."""
    from accounts.backends import RESOLVED_LOGIN_ATTR
    from accounts.services.events import channel_of, user_event_record

    _, account = getattr(request, RESOLVED_LOGIN_ATTR, (None, None))
    data = {"channel": channel_of(request), "ip": getattr(request, "axes_ip_address", None)}
    user_event_record("lockout.started", user=account, data=data)


def _failures_counted(request: HttpRequest, credentials: dict[str, Any] | None) -> int | None:
    """axes' own count (the largest sum of ``failures_since_start`` over its lockout parameter
    sets, within the cool-off), in SQL built once (identity.postgres.statements): the queryset
    it compiles for every sign-in cost more CPU than the query. None where axes' path is
    needed (no cool-off, not Postgres).
    """
    alias = router.db_for_read(AccessAttempt)
    connection = connections[alias]
    if not fast_path(connection) or settings.AXES_COOLOFF_TIME is None:
        return None
    username = get_client_username(request, credentials)
    parameter_sets = get_client_parameters(
        username, request.axes_ip_address, request.axes_user_agent, request, credentials
    )
    threshold = get_cool_off_threshold(request)
    counts = []
    for parameters in parameter_sets:
        if not parameters or any(value is None for value in parameters.values()):
            return None  # axes filters on IS NULL there; rare enough for the ORM
        values = [
            AccessAttempt._meta.get_field(name).get_db_prep_value(value, connection)
            for name, value in parameters.items()
        ]
        row = _failures_statement(alias, tuple(parameters)).row([*values, threshold])
        counts.append(row[0] or 0)
    return max(counts)


@functools.cache
def _failures_statement(alias: str, names: tuple[str, ...]) -> Statement:
    # Field names of axes' lockout parameters, resolved to columns by the model's metadata.
    where = " AND ".join(f"{{a.{name}}} = %s" for name in names)
    return sql_statement(
        "SELECT SUM({a.failures_since_start}) FROM {a}"  # noqa: S608 - no values inside
        f" WHERE {where} AND {{a.attempt_time}} >= %s",
        tables=(("a", AccessAttempt),),
        using=alias,
    )


def retry_after_seconds(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    seconds = retry_after_seconds(request)
    minutes = max(1, math.ceil(seconds / 60))
    if request.path.startswith("/api/") or request.path.startswith("/o/"):
        response: HttpResponse = JsonResponse(
            {
                "type": "about:blank",
                "title": "Too many failed attempts",
                "status": 429,
                "detail": f"Too many failed sign-in attempts. Try again in {minutes} minutes.",
                "code": "locked_out",
                "errors": [],
            },
            status=429,
            content_type="application/problem+json",
        )
    else:
        response = render(
            request, "accounts/locked_out.html", {"retry_minutes": minutes}, status=429
        )
    response["Retry-After"] = str(seconds)
    return response
