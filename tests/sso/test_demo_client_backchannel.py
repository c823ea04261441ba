"""The demo relying party's back-channel logout endpoint refuses every token that is not a
logout token the portal issued for it (Back-Channel Logout 1.0 §2.6), and ends only the
sessions of the sid it names."""

from __future__ import annotations

import io
import time
from urllib.parse import urlencode

import jwt
import pytest

from identity.keys import signing_keys
from sso.backchannel import BACKCHANNEL_LOGOUT_EVENT, logout_token_build
from sso.demo_client import Config, DemoClient, Session
from sso.services import issuer

CLIENT_ID = "demo-client-id"


@pytest.fixture
def demo(live_server, settings) -> DemoClient:
    settings.PORTAL_URL = live_server.url
    return DemoClient(Config(live_server.url, CLIENT_ID, "http://127.0.0.1:1"))


def _post(demo: DemoClient, token: str) -> str:
    body = urlencode({"logout_token": token}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/backchannel-logout",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    answered: list[str] = []
    demo(environ, lambda status, headers: answered.append(status))
    return answered[0]


def _signed(claims: dict, typ: str = "logout+jwt") -> str:
    key = signing_keys().active
    return jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"typ": typ, "kid": key.kid}
    )


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": "j1",
        "sid": "sid-1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _signed_in(demo: DemoClient, sid: str) -> Session:
    session = Session(token={"access_token": "x"}, claims={"sid": sid, "sub": "u"})
    demo.sessions[sid] = session
    return session


@pytest.mark.django_db(transaction=True)
def test_a_valid_logout_token_ends_only_the_sessions_of_its_sid(demo):
    ended, kept = _signed_in(demo, "sid-1"), _signed_in(demo, "sid-2")
    token = logout_token_build(client_id=CLIENT_ID, sub="u", sid="sid-1")
    assert _post(demo, token) == "200 OK"
    assert ended.claims == {}
    assert ended.message == "The portal signed you out."
    assert kept.claims == {"sid": "sid-2", "sub": "u"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: _signed(_claims(aud="another-client")), id="another-audience"),
        pytest.param(lambda: _signed(_claims(iss="https://evil.example")), id="another-issuer"),
        pytest.param(lambda: _signed(_claims(nonce="n")), id="with-a-nonce"),
        pytest.param(lambda: _signed(_claims(events=None)), id="without-the-event"),
        pytest.param(lambda: _signed(_claims(sid=None)), id="without-sid-or-sub"),
        pytest.param(lambda: _signed(_claims(), typ="JWT"), id="an-id-token-type"),
        pytest.param(
            lambda: _signed(_claims(iat=int(time.time()) - 900, exp=int(time.time()) - 600)),
            id="expired",
        ),
        pytest.param(lambda: _signed(_claims())[:-4] + "AAAA", id="bad-signature"),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
    ],
)
def test_an_invalid_logout_token_is_refused_with_400_and_ends_nothing(demo, token):
    session = _signed_in(demo, "sid-1")
    assert _post(demo, token()) == "400 Bad Request"
    assert session.claims == {"sid": "sid-1", "sub": "u"}
