"""The token endpoint's few-seconds cache of the client row: one query fewer per token
request, forgotten at once when the secret is rotated or the application deleted."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sso import services
from tests.sso.conftest import basic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def _client_credentials(client, client_id: str, secret: str):
    return client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )


def test_second_request_skips_the_client_query(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = _client_credentials(client, service_rp.client_id, service_rp.secret)
    assert response.status_code == 200
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]


def test_rotated_secret_stops_working_at_once(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    new = services.application_secret_rotate(application=service_rp.app)
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 401
    assert _client_credentials(client, service_rp.client_id, new).status_code == 200


def test_deleted_application_stops_working_at_once(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    services.application_delete(application=service_rp.app)
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 401
