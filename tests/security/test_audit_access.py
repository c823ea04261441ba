"""Who may read the audit stream (audit.read, on each channel), and what it never shows: the
stream tells everything about everyone, so every "no" is tested as an attacker would try it."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import LoginEvent, User
from authz import services as authz_services
from authz.models import Role
from identity.events import event_record
from sso import services as sso_services
from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.security.conftest import holder_of
from tests.sso.conftest import Registered, register, sign_in

pytestmark = pytest.mark.django_db

URL = reverse("api:accounts:audit_events")
ADMIN_SCOPES = "openid read write admin.read admin.write"


def _trusted(owner: User) -> Registered:
    registered = register(owner)
    sso_services.application_trust_set(application=registered.app, is_trusted=True)
    sso_services.application_update(
        application=registered.app,
        allowed_scopes=f"{registered.app.allowed_scopes} admin.read admin.write",
    )
    return registered


def _export(api) -> list[dict]:
    response = api.get(URL, {"format": "jsonl"})
    assert response.status_code == 200, response
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_anonymous_callers_cannot_read_the_audit_stream(api):
    assert_problem(api.get(URL), 401, "not_authenticated")
    assert_problem(api.get(URL, {"format": "jsonl"}), 401, "not_authenticated")


@pytest.mark.parametrize("role", [None, "user-manager"])
def test_without_audit_read_not_even_ones_own_entries_are_readable(role, signed_in_api):
    user = holder_of(role) if role else UserFactory()
    event_record("user.updated", data={"changed": ["email"]}, subject=user, actor=user)
    api = signed_in_api(user)  # signing in wrote a sign-in of theirs too

    for params in ({}, {"user": str(user.public_id)}, {"actor": str(user.public_id)}):
        assert_problem(api.get(URL, params), 403, "permission_denied")
    assert_problem(api.get(URL, {"format": "jsonl"}), 403, "permission_denied")


def test_auditor_role_reads_the_stream(signed_in_api):
    response = signed_in_api(holder_of("auditor")).get(URL)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]


def test_browser_session_reads_the_stream_but_cannot_write_to_it():
    client = Client(enforce_csrf_checks=True)
    client.force_login(holder_of("auditor"))

    assert client.get(URL).status_code == 200
    # Without the CSRF token a session's unsafe request is refused before anything else.
    assert client.post(URL, {}, content_type="application/json").status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_audit_stream_is_read_only(method, signed_in_api):
    api = signed_in_api(UserFactory(superuser=True))

    response = getattr(api, method)(URL, {}, format="json")

    assert_problem(response, 405, "method_not_allowed")


def test_oauth_token_without_the_admin_scope_is_refused(client, owner, bearer_client):
    tokens = sign_in(client, register(owner), holder_of("auditor"), scope="openid read write")

    response = bearer_client(tokens["access_token"]).get(URL)

    assert_problem(response, 403, "insufficient_scope")


def test_oauth_admin_scope_reads_only_for_a_holder_of_audit_read(client, owner, bearer_client):
    trusted = _trusted(owner)
    auditor_token = sign_in(client, trusted, holder_of("auditor"), scope=ADMIN_SCOPES)
    member_token = sign_in(Client(), trusted, UserFactory(), scope=ADMIN_SCOPES)

    assert bearer_client(auditor_token["access_token"]).get(URL).status_code == 200
    refused = bearer_client(member_token["access_token"]).get(URL)
    assert_problem(refused, 403, "permission_denied")


def test_losing_the_role_ends_access_on_the_next_request(signed_in_api):
    auditor = holder_of("auditor")
    api = signed_in_api(auditor)
    assert api.get(URL).status_code == 200

    authz_services.role_unassign(user=auditor, role=Role.objects.get(name="auditor"))

    assert_problem(api.get(URL), 403, "permission_denied")


@pytest.mark.parametrize(
    "value",
    [
        "accounts_user",
        "accounts_onetimetoken.*",
        "user.created' OR '1'='1",
        "%",
        "_",
        "user.%",
        ".*",
        "sign_in",
    ],
)
def test_the_type_filter_reaches_no_other_table(value, signed_in_api):
    api = signed_in_api(holder_of("auditor"))

    assert_problem(api.get(URL, {"type": value}), 400, "unknown_event_type")


def test_no_password_or_token_appears_in_any_entry(signed_in_api, api_tokens):
    victim = UserFactory()
    wrong = "Wr0ng-but-close-Passw0rd!"
    attempt = APIClient().post(
        reverse("api:accounts:login"),
        {"login": victim.username, "password": wrong},
        format="json",
    )
    assert attempt.status_code == 401
    tokens = api_tokens(victim)
    authz_services.role_assign(
        user=victim, role=Role.objects.get(name="user-manager"), granted_by=None
    )
    assert LoginEvent.objects.filter(user=victim).count() == 2

    entries = _export(signed_in_api(holder_of("auditor")))

    text = json.dumps(entries)
    assert {"sign_in.failed", "sign_in.succeeded", "role.assigned"} <= {e["type"] for e in entries}
    for secret in (wrong, victim.raw_password, victim.password, tokens["access_token"]):
        assert secret not in text
    assert tokens["refresh_token"] not in text
