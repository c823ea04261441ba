"""The one parser of the Authorization header: case-insensitive scheme (RFC 9110 §11.1),
credentials without the spaces around them, and nothing else in the apps reads the header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import RequestFactory

from identity.http import authorization

ROOT = Path(__file__).resolve().parents[2]
APPS = ("identity", "authz", "accounts", "sso")


def _parse(header: str | None):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return authorization(RequestFactory().get("/", **extra))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def", ("bearer", "abc.def")),
        ("bearer abc", ("bearer", "abc")),  # schemes are case-insensitive
        ("BEARER abc", ("bearer", "abc")),
        ("Basic   dXNlcjpwYXNz  ", ("basic", "dXNlcjpwYXNz")),  # extra spaces
        ("  Bearer abc", ("bearer", "abc")),  # a field value has no surrounding whitespace
        ("Bearer", ("bearer", "")),  # a scheme without credentials
        ("Bearer ", ("bearer", "")),
        ("", ("", "")),
        (None, ("", "")),  # no header at all
    ],
)
def test_the_header_splits_into_scheme_and_credentials(header, expected):
    assert tuple(_parse(header)) == expected


@pytest.mark.parametrize("header", ["Token abc", "Bearerabc", "Digest x=1", "abc"])
def test_other_schemes_are_not_bearer(header):
    assert _parse(header).scheme != "bearer"


def test_the_named_fields_hold_the_parts():
    parsed = _parse("Bearer tok")
    assert (parsed.scheme, parsed.credentials) == ("bearer", "tok")


def test_only_identity_http_reads_the_header():
    readers = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and re.search(r"HTTP_AUTHORIZATION", path.read_text())
    ]
    assert readers == ["identity/http.py"]
