"""RP-initiated logout to a public native client's loopback URI (RFC 8252 §7.3), registered
exactly; DOT's strict mode alone would refuse http for every public client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sso import services
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8001"


@pytest.fixture
def demo():
    return services.demo_client_register(base_url=BASE)


def test_demo_client_register_creates_a_public_client_once(demo) -> None:
    assert demo.client_type == "public"
    assert demo.redirect_uris == f"{BASE}/callback"
    assert services.demo_client_register(base_url=BASE).pk == demo.pk
    moved = services.demo_client_register(base_url="http://127.0.0.1:9001")
    assert moved.pk == demo.pk
    assert moved.redirect_uris == "http://127.0.0.1:9001/callback"


@pytest.mark.parametrize(("uri", "status"), [(f"{BASE}/", 302), (f"{BASE}/other", 400)])
def test_end_session_to_a_registered_loopback_uri(client, owner, user, uri, status) -> None:
    native = register(owner, client_type="public", post_logout_redirect_uris=f"{BASE}/")
    tokens = sign_in(client, native, user, scope="openid")
    response = client.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": uri},
    )
    assert response.status_code == status
    if status == 302:
        assert response["Location"] == uri
