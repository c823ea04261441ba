"""/metrics is not public: it tells how many sign-ins fail, which routes are hit and how the
cache fares; only METRICS_ALLOWED_IPS and the METRICS_TOKEN bearer read it (ASVS 5.0 V13.4.5:
monitoring endpoints are not exposed)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Bearer guessed-token"},
        {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},
        {"HTTP_X_REAL_IP": "127.0.0.1", "HTTP_FORWARDED": "for=127.0.0.1"},
    ],
    ids=["anonymous", "empty-bearer", "wrong-bearer", "spoofed-xff", "spoofed-forwarded"],
)
def test_metrics_are_not_served_to_the_internet(settings, headers) -> None:
    settings.METRICS_TOKEN = "the-real-scraper-token"
    response = Client(REMOTE_ADDR="203.0.113.50").get("/metrics", **headers)
    assert response.status_code == 404
    assert b"identity_" not in response.content


@pytest.mark.parametrize("method", ["post", "head", "options", "delete"])
def test_metrics_refuse_every_method_alike(method) -> None:
    outsider = Client(REMOTE_ADDR="203.0.113.50")
    assert getattr(outsider, method)("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="127.0.0.1").post("/metrics").status_code == 405
