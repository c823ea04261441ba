"""Property tests on every parser of untrusted input: tokens, codes, redirect targets, user
agents. Random input only ever yields the documented refusal, never another exception.
FUZZ_EXAMPLES sets the examples per property (make fuzz runs many more than CI)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError

from accounts.devices import device_label
from accounts.jwt import AccessToken, RefreshToken, token_backend
from accounts.services.secrets import hash_code
from accounts.views.base import safe_next

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
jwt_like = st.lists(
    st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.hex())),
    min_size=1,
    max_size=4,
).map(".".join)
untrusted_text = st.one_of(st.text(max_size=300), jwt_like)


@fuzz
@given(token=st.one_of(untrusted_text, st.binary(max_size=300)))
def test_jwt_decode_only_refuses(token: str | bytes) -> None:
    with pytest.raises(TokenBackendError):
        token_backend.decode(token)


@fuzz
@given(token=untrusted_text)
def test_token_classes_only_refuse(token: str) -> None:
    for token_class in (AccessToken, RefreshToken):
        with pytest.raises(TokenError):
            token_class(token)


@fuzz
@given(code=st.text(max_size=200))
def test_reset_code_hash_is_total_and_normalised(code: str) -> None:
    digest = hash_code(code)
    assert len(digest) == 64
    assert hash_code(f"  {code.lower()}  ") == hash_code(code.upper()) or code != code.strip()


@pytest.mark.django_db
@fuzz
@given(code=st.text(max_size=64), login=st.text(max_size=64))
def test_reset_confirm_api_refuses_random_codes(code: str, login: str) -> None:
    from django.test import Client

    body = {"login": login, "code": code, "new_password": "a brand new passphrase 2024"}
    response = Client().post(
        "/api/v1/auth/password-reset/confirm/", body, content_type="application/json"
    )
    assert response.status_code in {400, 429}, response.content


@fuzz
@given(
    nxt=st.one_of(
        st.text(max_size=200),
        st.from_regex(r"\A[/\\]{1,3}[\w.:@%\\/-]{0,40}\Z"),
        st.sampled_from(["//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "/\t/evil.com"]),
    )
)
def test_safe_next_only_returns_local_paths(nxt: str) -> None:
    request = RequestFactory().get("/accounts/login/", {"next": nxt})
    result = safe_next(request)
    assert result in {"", nxt}
    if result:
        parts = urlsplit(result.replace("\\", "/"))
        assert not parts.scheme
        assert not parts.netloc
        assert result.startswith("/")


@pytest.mark.django_db
@fuzz
@given(uri=st.one_of(st.text(max_size=200), st.from_regex(r"\A[a-z]{1,8}://[^\s]{0,60}\Z")))
def test_redirect_uri_match_is_exact(uri: str) -> None:
    from sso.models import Application

    app = Application(redirect_uris="https://rp.example.com/callback http://127.0.0.1/callback")
    allowed = app.redirect_uri_allowed(uri)
    assert isinstance(allowed, bool)
    if allowed:
        parts = urlsplit(uri)
        assert parts.hostname in {"rp.example.com", "127.0.0.1"}


@fuzz
@given(user_agent=st.text(max_size=2000))
def test_device_label_never_raises_and_is_short(user_agent: str) -> None:
    label = device_label(user_agent)
    assert isinstance(label, str)
    assert 0 < len(label) <= 100


@pytest.mark.django_db
@pytest.mark.parametrize("uri", ["https://[", "http://[::1", "https://rp.example.com:99999/cb"])
def test_malformed_redirect_uri_is_refused_not_a_server_error(client, uri: str) -> None:
    from tests.factories import UserFactory
    from tests.sso.conftest import basic, pkce_pair, register

    rp = register(UserFactory())
    client.force_login(UserFactory())
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": uri,
        "scope": "openid",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
    }
    response = client.get("/o/authorize/", params)
    assert response.status_code < 500
    token = client.post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": uri},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert token.status_code < 500


_LOG_WORDS = st.sampled_from(
    ["/accounts/password-reset/", "verify-email/", "%2F", "code=", "token=", "&", "?", "%3D",
     "'password': '", "client_secret=", "done/", "x" * 20, " ", "\"", "%26"]
)  # fmt: skip


@fuzz
@given(text=st.one_of(st.text(max_size=200), st.lists(_LOG_WORDS, max_size=12).map("".join)))
def test_log_redaction_prefilter_never_skips_a_secret(text: str) -> None:
    from identity import logfilters

    full = logfilters._TOKEN_IN_PATH.sub(logfilters.REDACTED, text)
    full = logfilters._SECRET_KEY.sub(
        logfilters.REDACTED, logfilters._SECRET_PARAM.sub(logfilters.REDACTED, full)
    )
    assert logfilters.redact(text) == full
