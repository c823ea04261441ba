"""One key set for every node: nodes starting together create one key, and a rotation through
any node is published and honoured by every other one within a second or two."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from identity import keys
from identity.models import SigningKeyRecord
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.hardening.conftest import race
from tests.processes import database_url, live_api_tokens, portal_processes

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, database: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_nodes_starting_together_create_one_signing_key() -> None:
    SigningKeyRecord.objects.all().delete()
    keys.forget_snapshot()

    created = race(4, lambda _: keys.ensure_signing_key())

    assert SigningKeyRecord.objects.count() == 1
    assert [key.kid for key in created if key is not None] == [SigningKeyRecord.objects.get().kid]


def test_ensure_signing_key_commands_run_at_once_leave_one_key() -> None:
    SigningKeyRecord.objects.all().delete()
    database = database_url()

    commands = [_manage("ensure_signing_key", database=database) for _ in range(3)]
    outputs = [command.communicate(timeout=120)[0] for command in commands]

    assert [command.returncode for command in commands] == [0, 0, 0], outputs
    kid = SigningKeyRecord.objects.get().kid
    assert sum(f"Created signing key {kid}." in output for output in outputs) == 1


def _jwks(base: str) -> dict:
    return httpx.get(f"{base}/.well-known/jwks.json").json()


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_a_rotation_through_one_node_is_published_and_honoured_by_every_node(tmp_path) -> None:
    user = UserFactory()
    database = database_url()
    with portal_processes(2, env={"DATABASE_URL": database}, tmp=tmp_path) as (first, second):
        before = _jwks(first)
        assert _jwks(second) == before

        rotation = _manage("rotate_signing_key", database=database)
        output = rotation.communicate(timeout=120)[0]
        assert rotation.returncode == 0, output
        rotated = time.monotonic()
        new_kid = SigningKeyRecord.objects.order_by("-created_at").first().kid
        while any(new_kid not in str(_jwks(base)) for base in (first, second)):
            assert time.monotonic() - rotated < 2.5, "a node still publishes the old key set"
            time.sleep(0.05)

        assert _jwks(first) == _jwks(second)
        assert {key["kid"] for key in _jwks(first)["keys"]} > {k["kid"] for k in before["keys"]}
        tokens = live_api_tokens(first, user.username, DEFAULT_PASSWORD)
        assert _kid(tokens["access_token"]) == new_kid
        me = httpx.get(
            f"{second}/api/v1/me/", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200, me.text
