"""Schemathesis in stateful mode over the whole OpenAPI schema, signed in: chains of calls
follow the schema's links (an id one call returns feeds the next), as an administrator and as
a plain user, and every response must be no 5xx and match its documented status, content type
and schema.

CI runs a bounded number of scenarios; FUZZ_EXAMPLES (``make fuzz``) sets how many.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.tokens import api_session_start
from identity.wsgi import application
from tests.factories import UserFactory

# Scenarios per identity; each scenario is a chain of up to STEPS linked calls.
SCENARIOS = int(os.environ.get("FUZZ_EXAMPLES", "40"))
# CI replays one fixed sequence; a long fuzz run explores new ones each time.
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ
STEPS = 8
SUCCESS = set(range(200, 300))
# Administration a plain member must never get a 2xx from.
ADMIN_ONLY = (
    "/api/v1/users/",
    "/api/v1/roles/",
    "/api/v1/permissions/",
    "/api/v1/email-domain-rules/",
)

# Loaded at import, as in tests/api/test_schemathesis.py; generating it touches no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# The bearer token of the identity the running scenario acts as.
_current: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class SignedIn:
    """Explicit credentials, so that schemathesis also probes each operation without them and
    with a forged token (the ignored_auth check) instead of taking a 2xx for granted."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str | None:
        return _current.get("token")

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _fresh_access_token(*, superuser: bool) -> str:
    """The access token of a new sign-in of a new account, made per scenario: a fuzzed call may
    delete, deactivate or rename the account, or revoke its sign-ins, and no scenario may end
    the rest of the run."""
    user = UserFactory(superuser=superuser)
    return api_session_start(user=user, ip="127.0.0.1", user_agent="schemathesis").access_token


def _keep_the_test_connection() -> None:
    """Raw WSGI calls close the connection at request end, which would kill the test
    transaction; Django's test Client detaches the same handlers and reattaches them after each
    of its requests (see tests/api/test_schemathesis.py)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)


@pytest.fixture
def signed_in(db: None, settings: Any) -> Iterator[dict[str, Callable[[], str]]]:
    """For each identity, a function that returns a fresh access token."""
    # Throttles and lockout would answer most generated calls with 429 and hide the rest.
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "100000/min")
    settings.AXES_ENABLED = False
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0
    _keep_the_test_connection()
    yield {
        "admin": lambda: _fresh_access_token(superuser=True),
        "member": lambda: _fresh_access_token(superuser=False),
    }
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _machine(token: Callable[[], str], answers: dict[str, set[int]]) -> type:
    class SignedInMachine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each scenario starts from the same database, so that Hypothesis, replaying a
            # choice sequence, meets the same answers (else: FlakyStrategyDefinition).
            self.scenario = transaction.atomic()
            self.scenario.__enter__()
            _current["token"] = token()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def after_call(self, response: Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answers.setdefault(case.operation.label, set()).add(response.status_code)

        def validate_response(
            self, response: Response, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            # positive_data_acceptance is left out: business rules the schema cannot state
            # (password strength, unknown reset codes, taken names) refuse schema-valid input.
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    return SignedInMachine


@pytest.mark.parametrize("identity", ["admin", "member"])
def test_linked_calls_conform_to_the_schema(
    identity: str, signed_in: dict[str, Callable[[], str]]
) -> None:
    answers: dict[str, set[int]] = {}
    machine = _machine(signed_in[identity], answers)
    machine.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            derandomize=DERANDOMIZE,
            phases=[Phase.generate],  # no shrinking: keeps CI time bounded
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    succeeded = {label for label, statuses in answers.items() if statuses & SUCCESS}
    # Signed in for real: chains reached past authentication, not a wall of 401s (a member
    # has only a few operations of its own: sessions, connected apps, applications).
    assert len(succeeded) >= {"admin": 5, "member": 3}[identity], answers
    if identity == "member":
        assert not {label for label in succeeded if label.split()[1].startswith(ADMIN_ONLY)}
