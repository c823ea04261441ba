"""Prometheus metrics: the few series an operator watches, and the cheap calls that move them.

Every recording function is a counter increment (or one histogram observation) and does
nothing with METRICS_ENABLED off. Labels are fixed, small sets: a route pattern, never a path
with ids; a channel or outcome from the portal's own choices, never a client-supplied string or
a user id.

gunicorn runs several worker processes: with PROMETHEUS_MULTIPROC_DIR set (the gunicorn master
makes one when it is not given, identity/gunicorn_conf.py) prometheus-client keeps each
process's values in files there and /metrics adds them up (its multiprocess mode). Without it
(runserver, tests) the process's own registry is served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

UNMATCHED: Final = "unmatched"
# Methods outside these are counted as "other": the method is the client's to choose.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Grant types the OAuth token endpoint serves (sso.views.discovery), and the first party's.
GRANT_TYPES: Final = frozenset(
    {"authorization_code", "refresh_token", "client_credentials", "sign_in"}
)

REQUESTS = Counter(
    "identity_http_requests",
    "HTTP requests answered, by route (URL pattern), method and status class.",
    ["route", "method", "status"],
)
REQUEST_DURATION = Histogram(
    "identity_http_request_duration_seconds",
    "Time from the first middleware to the response, by route (URL pattern).",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SIGN_INS = Counter(
    "identity_sign_ins",
    "Sign-in attempts by channel (browser, api, oauth, admin) and outcome.",
    ["channel", "outcome"],
)
LOCKOUTS = Counter(
    "identity_lockouts",
    "Username + IP pairs that django-axes locked out (the failure that crossed the limit).",
)
TOKEN_GRANTS = Counter(
    "identity_token_grants",
    "Tokens issued, by issuer (first_party, oauth) and grant type.",
    ["issuer", "grant_type"],
)
SESSIONS_REVOKED = Counter(
    "identity_sessions_revoked",
    "Live sign-ins (UserSession rows, every channel) revoked.",
)
MFA = Counter(
    "identity_mfa_verifications",
    "Factor proofs, second factors and passkeys signing in alone, by method (totp,"
    " recovery_code, webauthn) and outcome.",
    ["method", "outcome"],
)
CACHE_DOWN = Gauge(
    "identity_cache_down",
    "1 while the cache cannot be reached and callers fall back to the database.",
    multiprocess_mode="livemax",
)
CACHE_FALLBACKS = Counter(
    "identity_cache_fallbacks",
    "Cache calls answered by the database fallback because the cache was unreachable.",
)
DATABASE_ERRORS = Counter(
    "identity_database_errors",
    "Requests (and readiness checks) that found the database unreachable.",
)

# labels() takes a lock and builds a key: the request path keeps its children at hand.
_request_children: dict[tuple[str, str, str], tuple[object, object]] = {}


def request_observe(*, route: str, method: str, status: int, seconds: float) -> None:
    if not settings.METRICS_ENABLED:
        return
    method = method if method in METHODS else "other"
    key = (route, method, f"{status // 100}xx")
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(*key), REQUEST_DURATION.labels(route))
        _request_children[key] = children
    count, duration = children
    count.inc()  # type: ignore[attr-defined]
    duration.observe(seconds)  # type: ignore[attr-defined]


def sign_in_record(*, channel: str, outcome: str) -> None:
    if settings.METRICS_ENABLED:
        SIGN_INS.labels(channel, outcome).inc()


def lockout_record() -> None:
    if settings.METRICS_ENABLED:
        LOCKOUTS.inc()


def token_grant_record(*, issuer: str, grant_type: str) -> None:
    if settings.METRICS_ENABLED:
        grant_type = grant_type if grant_type in GRANT_TYPES else "other"
        TOKEN_GRANTS.labels(issuer, grant_type).inc()


def sessions_revoked_record(count: int) -> None:
    if settings.METRICS_ENABLED and count > 0:
        SESSIONS_REVOKED.inc(count)


def mfa_record(*, method: str, success: bool) -> None:
    if settings.METRICS_ENABLED:
        MFA.labels(method, "success" if success else "failure").inc()


def cache_state_record(*, down: bool) -> None:
    """Called on a change of state only (identity.cache), so the gauge costs nothing per call."""
    if settings.METRICS_ENABLED:
        CACHE_DOWN.set(1 if down else 0)


def cache_fallback_record() -> None:
    if settings.METRICS_ENABLED:
        CACHE_FALLBACKS.inc()


def database_error_record() -> None:
    if settings.METRICS_ENABLED:
        DATABASE_ERRORS.inc()


class DeliveryBacklog(Collector):
    """The outbox's backlog, read from the database at each scrape: deliveries are made by the
    task worker, a process without /metrics, and the table is the one truth every node shares,
    so any node answers for all. One query over the pending deliveries' partial index."""

    def collect(self) -> Iterator[Metric]:
        from identity.models import Delivery

        try:
            backlog = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
                count=Count("id"), oldest=Min("created_at")
            )
        except DatabaseError:
            return
        pending = GaugeMetricFamily(
            "identity_deliveries_pending",
            "Deliveries (webhooks, back-channel logouts) not yet made, retries included.",
        )
        pending.add_metric([], backlog["count"])
        oldest = GaugeMetricFamily(
            "identity_delivery_oldest_pending_seconds",
            "Age of the oldest delivery not yet made (0 when none): a stopped worker shows here.",
        )
        age = (timezone.now() - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0
        oldest.add_metric([], max(age, 0.0))
        yield pending
        yield oldest


def exposition() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, summed over gunicorn's workers when they
    share a PROMETHEUS_MULTIPROC_DIR, and the delivery backlog; its content type."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        return generate_latest(registry) + _backlog(), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY) + _backlog(), CONTENT_TYPE_LATEST


def _backlog() -> bytes:
    registry = CollectorRegistry()
    registry.register(DeliveryBacklog())
    return generate_latest(registry)
