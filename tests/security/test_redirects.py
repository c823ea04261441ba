"""Open redirects: next, redirect_uri and post_logout_redirect_uri never send a browser to an
unregistered or foreign place (ASVS 4.0.3 V5.1.5, V13.x / 5.0 V10.4.1, V10.4.2, V15.x)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.sso.conftest import LOGOUT_URI, NATIVE_URI, REDIRECT_URI, authorize, pkce_pair, sign_in

pytestmark = pytest.mark.django_db

# Forms that browsers, proxies or URL parsers have read as "another host".
FOREIGN = [
    "https://evil.example/",
    "http://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "////evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    "/\\evil.example/",
    "/\\/evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "https:\\\\evil.example",
    "http:evil.example",
    "%2F%2Fevil.example/",
    "/%2F/evil.example/",
    "/%5Cevil.example/",
    "%5C%5Cevil.example/",
    "https%3A%2F%2Fevil.example",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "https://testserver@evil.example/",
    "https://evil.example@testserver/",
    "//testserver@evil.example/",
    "/@evil.example",
    "https://evil。example/",
    "//evil%E3%80%82example/",
    "https://testserver.evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example\\@testserver/",
    "https://[::1]@evil.example/",
]


def _browser_target(location: str) -> tuple[str, str]:
    """Where a browser goes: tabs and newlines dropped, backslashes read as slashes."""
    cleaned = "".join(ch for ch in location if ch not in "\t\r\n").strip().replace("\\", "/")
    parts = urlsplit(cleaned)
    return parts.scheme.lower(), parts.netloc.lower()


def assert_stays_home(response) -> None:
    if response.status_code not in (301, 302, 303, 307, 308):
        return
    scheme, netloc = _browser_target(response["Location"])
    assert scheme in ("", "http", "https"), response["Location"]
    assert netloc in ("", "testserver"), response["Location"]
    assert not response["Location"].startswith(("//", "/\\", "\\")), response["Location"]


# -- next on the sign-in page -----------------------------------------------------------------


@pytest.mark.parametrize("target", FOREIGN)
def test_login_next_never_leaves_the_site(client, user, target):
    response = client.post(
        reverse("accounts:login") + "?next=x",
        {"username": user.username, "password": user.raw_password, "next": target},
    )
    assert response.status_code == 302
    assert_stays_home(response)


@pytest.mark.parametrize("target", FOREIGN)
def test_login_next_of_a_signed_in_visitor_never_leaves_the_site(client, user, target):
    client.force_login(user)
    response = client.get(reverse("accounts:login"), {"next": target})
    assert_stays_home(response)


@pytest.mark.parametrize("target", FOREIGN)
def test_login_page_does_not_echo_a_foreign_next(client, target):
    response = client.get(reverse("accounts:login"), {"next": target})
    assert response.context["next"] in ("", target)
    if response.context["next"]:  # only a path on this site survives
        assert response.context["next"].startswith("/")
        assert _browser_target(response.context["next"]) == ("", "")


def test_login_next_keeps_a_local_path(client, user):
    response = client.post(
        reverse("accounts:login"),
        {"username": user.username, "password": user.raw_password, "next": "/accounts/profile/"},
    )
    assert response["Location"] == "/accounts/profile/"


# -- redirect_uri at /o/authorize/ ------------------------------------------------------------

REDIRECT_TRICKS = [
    *FOREIGN,
    REDIRECT_URI + "/",
    REDIRECT_URI + "/../evil",
    REDIRECT_URI + "?next=https://evil.example/",
    REDIRECT_URI + "#frag",
    REDIRECT_URI.upper(),
    REDIRECT_URI.replace("https://", "http://"),
    REDIRECT_URI.replace("rp.example.com", "rp.example.com.evil.example"),
    REDIRECT_URI.replace("rp.example.com", "rp.example.com:444"),
    REDIRECT_URI.replace("https://", "https://evil.example@"),
    REDIRECT_URI.replace("https://", "https://rp.example.com@evil.example/"),
    REDIRECT_URI.replace("/callback", "/callback%2F..%2F..%2Fevil"),
    REDIRECT_URI.replace("/callback", "/%63allback"),
    REDIRECT_URI.replace("rp.example.com", "rp%2Eexample%2Ecom"),
    REDIRECT_URI.replace(".com", "。com"),
    REDIRECT_URI + "\t",
    REDIRECT_URI + "%0d%0aLocation:%20https://evil.example/",
    "https://rp.example.com\\@evil.example/callback",
    NATIVE_URI.replace("127.0.0.1", "localhost"),
    NATIVE_URI.replace("127.0.0.1", "127.0.0.1.evil.example"),
    NATIVE_URI.replace("127.0.0.1", "127.0.0.2"),
    NATIVE_URI.replace("/callback", "/other"),
    NATIVE_URI.replace("http://127.0.0.1", "http://127.0.0.1:80@evil.example"),
]


@pytest.mark.parametrize("redirect_uri", REDIRECT_TRICKS)
def test_authorize_redirects_only_to_the_registered_uri(client, rp, user, redirect_uri):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, redirect_uri=redirect_uri)
    assert response.status_code == 400, (redirect_uri, response.get("Location"))
    assert "Location" not in response


def test_authorize_loopback_may_use_any_port_only(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    ported = NATIVE_URI.replace("127.0.0.1/", "127.0.0.1:49152/")
    response = authorize(client, rp, challenge=challenge, redirect_uri=ported)
    assert response.status_code == 302
    assert response["Location"].startswith(ported + "?code=")


def test_authorize_of_an_unknown_client_shows_a_page(client, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = client.get(
        reverse("oauth2_provider:authorize"),
        {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": "https://evil.example/",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 400
    assert "Location" not in response


# -- post_logout_redirect_uri at /o/end-session/ ----------------------------------------------

LOGOUT_TRICKS = [
    *FOREIGN,
    LOGOUT_URI + "/",
    LOGOUT_URI + "?x=https://evil.example/",
    LOGOUT_URI.replace("rp.example.com", "rp.example.com.evil.example"),
    LOGOUT_URI.replace("https://", "https://rp.example.com@evil.example/"),
    LOGOUT_URI.replace("https://", "http://"),
    LOGOUT_URI + "%0d%0a",
    REDIRECT_URI,  # registered as a redirect URI, not as a post-logout one
]


@pytest.mark.parametrize("target", LOGOUT_TRICKS)
def test_end_session_redirects_only_to_a_registered_uri(client, rp, user, target):
    tokens = sign_in(client, rp, user)
    response = client.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target},
    )
    assert "Location" not in response or response["Location"] != target
    assert_stays_home(response)


@pytest.mark.parametrize("target", ["https://evil.example/", LOGOUT_URI])
def test_end_session_without_id_token_hint_never_redirects_away(client, rp, user, target):
    client.force_login(user)
    response = client.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {"client_id": "unknown", "post_logout_redirect_uri": target},
    )
    assert_stays_home(response)
