"""Every event type is emitted by the action that causes it, once, naming whose account it is,
who did it and what changed; and no payload carries a secret the action used."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from identity.event_types import EVENT_TYPES
from identity.models import Event
from tests.identity.event_triggers import TRIGGERS, Expected, TriggerContext
from tests.identity.event_triggers import failures_subscribed as subscribed

pytestmark = pytest.mark.django_db


@pytest.fixture
def failures_subscribed() -> Iterator[None]:
    with subscribed():
        yield


# The failure that starts a lockout is a failed sign-in too.
ALSO_WRITTEN = {"lockout.started": {"sign_in.failed"}}


def _id(user: object) -> object:
    return getattr(user, "public_id", None)


def test_triggers_cover_every_event_type() -> None:
    assert set(TRIGGERS) == set(EVENT_TYPES)


@pytest.mark.parametrize("type", list(EVENT_TYPES))
def test_each_action_writes_exactly_one_event_of_its_type_about_the_right_account(
    type: str, failures_subscribed: None
) -> None:
    expected: Expected = TRIGGERS[type](TriggerContext())

    written = list(Event.objects.filter(type=type))
    assert len(written) == 1, [e.data for e in written]
    event = written[0]
    assert event.subject_public_id == _id(expected.subject)
    assert event.actor_public_id == _id(expected.actor)
    assert event.data | expected.data == event.data, event.data
    assert event.sid == expected.sid
    assert event.client_id == expected.client_id
    # Nothing else, so that a receiver subscribed to everything gets each type once.
    others = set(Event.objects.exclude(type=type).values_list("type", flat=True))
    assert others <= ALSO_WRITTEN.get(type, set())


def test_no_payload_carries_a_password_token_code_or_secret(failures_subscribed: None) -> None:
    context = TriggerContext()
    for trigger in TRIGGERS.values():
        trigger(context)

    assert Event.objects.count() >= len(EVENT_TYPES)
    payloads = json.dumps(list(Event.objects.values("data", "sid", "client_id")), default=str)
    leaked = [secret for secret in context.secrets if secret and secret in payloads]
    assert leaked == []
    for word in ("password", "secret", "token", "hash", "code_hash"):
        assert f'"{word}"' not in payloads
