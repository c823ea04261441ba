"""Schemathesis over the whole OpenAPI schema, in process against the WSGI app: no 5xx, and
every response (errors included) matches its documented status, content type and schema."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from identity.wsgi import application
from tests.factories import UserFactory

# Loaded at import (schemathesis' lazy from_fixture loader does not run on pytest 9);
# generating the schema touches no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def superuser_headers(db: None, settings, api_tokens) -> Iterator[dict[str, str]]:
    """A valid first-party access token of a superuser, so that admin operations run too."""
    # Throttles and lockout would answer most generated calls with 429 and hide the rest.
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "100000/min")
    settings.AXES_ENABLED = False
    token = api_tokens(UserFactory(superuser=True))["access_token"]
    # Raw WSGI calls close the connection at request end, which would kill the test
    # transaction; Django's test Client detaches the same handlers (and reattaches them,
    # hence after the login above).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {token}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "15")),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps CI time bounded
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, superuser_headers: dict[str, str]
) -> None:
    # positive_data_acceptance is left out: business rules the schema cannot state (password
    # strength, unknown reset codes, taken names) rightly refuse schema-valid input.
    case.call_and_validate(headers=superuser_headers, excluded_checks=[positive_data_acceptance])
