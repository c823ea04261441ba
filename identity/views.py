"""Liveness and readiness probes, the Prometheus metrics, and the bench's bare view (mounted
only with BENCH_URLS)."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from identity import metrics as portal_metrics
from identity.http import authorization
from identity.net import client_ip, ip_in, relayed_by_untrusted_proxy

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
        portal_metrics.database_error_record()
        return False


def _cache_ok() -> bool:
    try:
        cache.set("readyz", "1", timeout=5)
        return cache.get("readyz") == "1"
    except Exception:
        logger.warning("readiness: cache check failed", exc_info=True)
        return False


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, for METRICS_ALLOWED_IPS or the METRICS_TOKEN bearer.

    Anyone else gets the portal's ordinary 404, as with METRICS_ENABLED off, whatever the
    method: a 403 (or a 405 for a POST) would tell a scanner that the endpoint exists."""
    if not settings.METRICS_ENABLED or not _metrics_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body, content_type = portal_metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def _metrics_allowed(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if expected:
        scheme, token = authorization(request)
        if scheme == "bearer" and hmac.compare_digest(token.encode(), expected.encode()):
            return True
    # TRUSTED_PROXIES-aware: an X-Forwarded-For from an untrusted peer is ignored, and the
    # peer itself is no client then: a load balancer on the node's host, not listed in
    # TRUSTED_PROXIES, would otherwise let the whole internet in as 127.0.0.1.
    if relayed_by_untrusted_proxy(request):
        return False
    return ip_in(client_ip(request), settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def bench_bare(request: HttpRequest) -> JsonResponse:
    """The benchmarks' baseline: the portal's middleware stack, then no work at all."""
    return JsonResponse({"ok": True})
