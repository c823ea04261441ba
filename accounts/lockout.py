"""django-axes hooks: which name a failure counts against, and what a locked pair sees."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The login as typed, trimmed and lower-cased, so "Alice" and "alice" share a counter."""
    value = (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("username", "") if request.method == "POST" else ""
    return str(value).strip().lower()[:254]


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
