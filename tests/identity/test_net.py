"""Client IP: X-Forwarded-For is believed only when it comes from a trusted proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from identity.net import client_ip


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.5", "", "203.0.113.5"),
        ([], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # nobody trusted: header ignored
        (["10.0.0.1"], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not from the proxy
        (["10.0.0.1"], "10.0.0.1", "198.51.100.9", "198.51.100.9"),
        (["10.0.0.0/8"], "10.0.0.1", "6.6.6.6, 198.51.100.9, 10.0.0.2", "198.51.100.9"),
        (["10.0.0.1"], "10.0.0.1", "garbage", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
