"""Liveness and readiness probes, and the bench's bare view (mounted only with BENCH_URLS)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve when the database answers. Without the cache the portal still serves
    (revocation, permissions and rate limits fall back, see identity/cache.py): "degraded"."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    status = "ok" if all(checks.values()) else "degraded"
    if not checks["database"]:
        status = "unavailable"
    return JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "unavailable" else 200
    )


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("readiness: database check failed", exc_info=True)
        return False


def _cache_ok() -> bool:
    try:
        cache.set("readyz", "1", timeout=5)
        return cache.get("readyz") == "1"
    except Exception:
        logger.warning("readiness: cache check failed", exc_info=True)
        return False


@never_cache
@require_GET
def bench_bare(request: HttpRequest) -> JsonResponse:
    """The benchmarks' baseline: the portal's middleware stack, then no work at all."""
    return JsonResponse({"ok": True})
