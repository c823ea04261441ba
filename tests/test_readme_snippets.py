"""The README's "Use it from an application" snippets, run against a live portal so they cannot
rot: registering through the API, the authlib PKCE code flow, checking a token against the JWKS."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from jwcrypto.common import JWException
from rest_framework.test import APIClient

from identity.keys import rotate_signing_key, signing_keys
from sso.demo_client import Config, DemoClient
from tests.factories import UserFactory

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.partition("\n## Use it from an application\n")[2]
EXAMPLE_PORTAL = "https://id.example.com"


def snippet(language: str, marker: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"the README's application section has no {language} block {marker!r}"
    return found[0]


@pytest.fixture
def portal(live_server, settings, tmp_path: Path) -> str:
    """The live server as the portal: its URL is the issuer."""
    settings.PORTAL_URL = live_server.url
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": live_server.url}
    signing_keys()
    return live_server.url


def run(source: str, portal: str, /, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = dict(names)
    exec(source.replace(f'"{EXAMPLE_PORTAL}"', repr(portal)), namespace)  # noqa: S102 - our README
    return namespace


def register_from_readme(signed_in_api: Callable[..., APIClient]) -> tuple[dict[str, Any], Any]:
    """The README's curl call, made by a signed-in user with a first-party token."""
    curl = snippet("sh", "/api/v1/applications/")
    body = json.loads(re.search(r"-d '(.*?)'", curl, re.S).group(1))
    api = signed_in_api(UserFactory())
    return body, api.post(reverse("api:sso:applications"), body, format="json")


def test_readme_registers_an_application_through_the_api(portal: str, signed_in_api) -> None:
    body, response = register_from_readme(signed_in_api)

    assert response.status_code == 201, response.content
    assert response.json()["client_id"]
    assert response.json()["client_type"] == body["client_type"]


def test_readme_discovery_lists_what_the_readme_names(portal: str) -> None:
    meta = Client().get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == portal
    for endpoint in ("authorization", "token", "userinfo", "end_session", "introspection"):
        assert meta[f"{endpoint}_endpoint"].startswith(portal)
    assert meta["revocation_endpoint"].startswith(portal)
    assert meta["jwks_uri"] == f"{portal}/.well-known/jwks.json"


def _front_channel(user, url: str) -> str:
    """The browser's part: signed in, it follows the authorization URL, allows, returns a code."""
    browser = Client()
    browser.force_login(user)
    parts = urlsplit(url)
    response = browser.get(f"{parts.path}?{parts.query}")
    if response.status_code == 200:  # the consent page
        form = {k: v for k, v in response.context["form"].initial.items() if v is not None}
        response = browser.post(reverse("oauth2_provider:authorize"), {**form, "allow": "Allow"})
    assert response.status_code == 302, response.content
    return response["Location"]


def test_readme_pkce_code_flow_with_authlib_signs_a_user_in(portal: str, signed_in_api) -> None:
    user = UserFactory()
    client_id = register_from_readme(signed_in_api)[1].json()["client_id"]
    code = snippet("python", "create_authorization_url").replace("<client_id>", client_id)
    first, second = code.split("\n# 2.", 1)

    step1 = run(first, portal)
    callback = _front_channel(user, step1["url"])
    params = {key: values[0] for key, values in parse_qs(urlsplit(callback).query).items()}
    assert params["state"] == step1["state"]
    assert params["iss"] == step1["meta"]["issuer"]  # what step 2 tells the client to check
    step2 = run("# 2." + second, portal, **step1, code=params["code"])
    step2["client"].close()  # its kept-alive connection would hold a live-server thread

    token = step2["token"]
    assert {"access_token", "refresh_token", "id_token"} <= set(token)
    demo = DemoClient(Config(portal_url=portal, client_id=client_id, base_url="https://app"))
    claims = demo.verify_id_token(token["id_token"], nonce=step1["nonce"])
    assert claims["sub"] == str(user.public_id)


def test_readme_jwks_check_accepts_access_tokens_only(portal: str, api_tokens) -> None:
    user = UserFactory()
    tokens = api_tokens(user)
    verify = run(snippet("python", "def verify_access_token"), portal)["verify_access_token"]

    claims = verify(tokens["access_token"])

    assert claims["sub"] == str(user.public_id)
    assert claims["iss"] == portal
    for other in (tokens["refresh_token"], tokens["id_token"]):
        with pytest.raises(JWException):
            verify(other)
    head, payload, signature = tokens["access_token"].split(".")
    other_signature = ("B" if signature[0] == "A" else "A") + signature[1:]
    forged = f"{head}.{payload}.{other_signature}"
    with pytest.raises(JWException):
        verify(forged)


def test_readme_jwks_check_follows_a_key_rotation(portal: str, api_tokens) -> None:
    user = UserFactory()
    verify = run(snippet("python", "def verify_access_token"), portal)["verify_access_token"]
    assert verify(api_tokens(user)["access_token"])["sub"] == str(user.public_id)

    rotate_signing_key()

    assert verify(api_tokens(user)["access_token"])["sub"] == str(user.public_id)


def test_readme_token_endpoint_notices_a_sign_out_at_once(
    portal: str, api_tokens, bearer_client
) -> None:
    tokens = api_tokens(UserFactory())
    api = bearer_client(tokens["access_token"])
    assert api.get(reverse("api:accounts:token")).status_code == 200

    out = APIClient().post(
        reverse("api:accounts:logout"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert out.status_code == 204

    assert api.get(reverse("api:accounts:token")).status_code == 401
