"""First-party API tokens: issue, claims, forgeries, rotation, reuse, logout, the DRF auth class."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.api.authentication import JWTAuthentication
from accounts.jwt import AccessToken
from accounts.models import Channel, User, UserSession
from accounts.services.sessions import session_proof_renew, sid_is_revoked
from accounts.tokens import (
    InvalidToken,
    TokenPair,
    access_token_verify,
    api_session_end,
    api_session_start,
    id_token_issue,
    token_refresh,
)
from identity import keys

pytestmark = pytest.mark.django_db


class _WhoAmI(APIView):
    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"sub": str(request.user.public_id), "sid": request.auth["sid"]})


def _call_api(token: str) -> Response:
    request = APIRequestFactory().get("/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")
    return _WhoAmI.as_view()(request)


def _authenticate(token: str) -> tuple[User, AccessToken]:
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    result = JWTAuthentication().authenticate(Request(request))
    assert result is not None
    return result


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def test_api_session_start_records_one_api_session(user: User, pair: TokenPair) -> None:
    session = UserSession.objects.get(user=user)

    assert pair.session == session
    assert session.channel == Channel.API
    assert str(session.ip) == "203.0.113.7"
    assert session.refresh_jti == _claims(pair.refresh_token)["jti"]
    lifetime = session.expires_at - session.created_at
    assert abs(lifetime - timedelta(days=14)) < timedelta(seconds=5)
    assert pair.expires_in == 300


def test_access_token_claims_and_header(settings, user: User, pair: TokenPair) -> None:
    claims = access_token_verify(token=pair.access_token)

    assert claims["iss"] == settings.PORTAL_URL
    assert claims["sub"] == str(user.public_id)
    assert claims["sid"] == str(pair.session.pk)
    assert claims["token_type"] == "access"
    assert claims["roles"] == []
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] != _claims(pair.refresh_token)["jti"]
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.signing_keys().active.kid


def test_lifetimes_follow_settings(settings, user: User) -> None:
    settings.SIMPLE_JWT = {
        **settings.SIMPLE_JWT,
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=60),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=2),
    }

    pair = api_session_start(user=user, ip=None, user_agent="")

    claims = _claims(pair.refresh_token)
    assert pair.expires_in == 60
    assert claims["exp"] - claims["iat"] == 2 * 86400


def _forge_alg_none(token: str) -> str:
    header = jwt.get_unverified_header(token) | {"alg": "none"}
    return _segments(header, _claims(token)) + "."


def _forge_hs256_with_public_key(token: str) -> str:
    public_pem = keys.signing_keys().active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _segments(jwt.get_unverified_header(token) | {"alg": "HS256"}, _claims(token))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _forge_unknown_key(token: str) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(token), stranger, algorithm="RS256", headers={"kid": "stranger"})


def _forge_known_kid_other_key(token: str) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.encode(_claims(token), stranger, algorithm="RS256", headers={"kid": kid})


def _forge_tampered_payload(token: str) -> str:
    header, _, signature = token.split(".")
    claims = _claims(token) | {"sub": str(uuid.uuid4())}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _forge_no_kid(token: str) -> str:
    header, _, _ = token.split(".")
    return token.replace(header, _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()), 1)


@pytest.mark.parametrize(
    "forge",
    [
        _forge_alg_none,
        _forge_hs256_with_public_key,
        _forge_unknown_key,
        _forge_known_kid_other_key,
        _forge_tampered_payload,
        _forge_no_kid,
    ],
)
def test_forged_access_tokens_are_refused(pair: TokenPair, forge) -> None:
    forged = forge(pair.access_token)

    with pytest.raises(InvalidToken):
        access_token_verify(token=forged)
    with pytest.raises(AuthenticationFailed) as refused:
        _authenticate(forged)
    assert refused.value.get_codes() == "token_not_valid"


def test_expired_access_token_is_refused(pair: TokenPair) -> None:
    token = AccessToken(pair.access_token)
    token.set_exp(from_time=timezone.now() - timedelta(minutes=10))
    expired = str(token)

    with pytest.raises(InvalidToken):
        access_token_verify(token=expired)
    assert _call_api(expired).status_code == 401


def test_access_token_from_another_issuer_is_refused(settings, pair: TokenPair) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": "https://elsewhere.example"}

    with pytest.raises(InvalidToken):
        access_token_verify(token=pair.access_token)


def test_refresh_token_is_not_an_access_token(pair: TokenPair) -> None:
    with pytest.raises(InvalidToken):
        access_token_verify(token=pair.refresh_token)
    with pytest.raises(AuthenticationFailed):
        _authenticate(pair.refresh_token)


def test_access_token_is_not_a_refresh_token(pair: TokenPair) -> None:
    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=pair.access_token)


def test_id_token_is_not_an_access_token(user: User, pair: TokenPair) -> None:
    id_token = id_token_issue(user=user, session=pair.session, audience="client-1")

    with pytest.raises(InvalidToken):
        access_token_verify(token=id_token)


def test_token_refresh_rotates_and_refuses_the_old_token(pair: TokenPair) -> None:
    rotated = token_refresh(refresh_token=pair.refresh_token)

    session = UserSession.objects.get(pk=pair.session.pk)
    assert session.refresh_jti == _claims(rotated.refresh_token)["jti"]
    assert rotated.session.refresh_jti == session.refresh_jti
    assert access_token_verify(token=rotated.access_token)["sid"] == str(session.pk)
    assert token_refresh(refresh_token=rotated.refresh_token).session.pk == session.pk


def test_reused_refresh_token_revokes_the_whole_session(pair: TokenPair) -> None:
    rotated = token_refresh(refresh_token=pair.refresh_token)
    assert _call_api(rotated.access_token).status_code == 200

    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=pair.refresh_token)

    session = UserSession.objects.get(pk=pair.session.pk)
    assert session.revoked_at is not None
    assert session.revoked_reason == "refresh_token_reused"
    assert session.refresh_jti == ""
    assert sid_is_revoked(session.pk)
    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=rotated.refresh_token)
    response = _call_api(rotated.access_token)
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"


def test_refresh_of_expired_session_is_refused_without_revoking(pair: TokenPair) -> None:
    UserSession.objects.filter(pk=pair.session.pk).update(expires_at=timezone.now())

    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=pair.refresh_token)

    assert UserSession.objects.get(pk=pair.session.pk).revoked_at is None


def test_refresh_refused_for_inactive_user(user: User, pair: TokenPair) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=pair.refresh_token)


def test_api_session_end_kills_refresh_and_access(user: User, pair: TokenPair) -> None:
    other = api_session_start(user=user, ip=None, user_agent="other device")

    api_session_end(refresh_token=pair.refresh_token)
    api_session_end(refresh_token=pair.refresh_token)  # idempotent

    session = UserSession.objects.get(pk=pair.session.pk)
    assert session.revoked_reason == "signed_out"
    with pytest.raises(InvalidToken):
        token_refresh(refresh_token=pair.refresh_token)
    assert _call_api(pair.access_token).status_code == 401
    assert UserSession.objects.get(pk=other.session.pk).revoked_at is None
    assert _call_api(other.access_token).status_code == 200


def test_api_session_end_refuses_a_forged_token(pair: TokenPair) -> None:
    with pytest.raises(InvalidToken):
        api_session_end(refresh_token=_forge_unknown_key(pair.refresh_token))

    assert UserSession.objects.get(pk=pair.session.pk).revoked_at is None


def test_auth_class_loads_the_user_with_one_query(
    user: User, pair: TokenPair, django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):
        authenticated, token = _authenticate(pair.access_token)

    assert authenticated == user
    assert token["sid"] == str(pair.session.pk)
    assert _call_api(pair.access_token).data == {
        "sub": str(user.public_id),
        "sid": str(pair.session.pk),
    }


def test_auth_class_refuses_inactive_user(user: User, pair: TokenPair) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(AuthenticationFailed) as refused:
        _authenticate(pair.access_token)
    assert refused.value.get_codes() == "user_inactive"


def test_auth_class_asks_for_bearer_token_without_one() -> None:
    response = _WhoAmI.as_view()(APIRequestFactory().get("/whoami"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_tokens_signed_before_a_rotation_stay_valid(pair: TokenPair) -> None:
    old_kid = keys.signing_keys().active.kid
    new_key = keys.rotate_signing_key()

    assert access_token_verify(token=pair.access_token)["sid"] == str(pair.session.pk)
    rotated = token_refresh(refresh_token=pair.refresh_token)
    assert jwt.get_unverified_header(rotated.access_token)["kid"] == new_key.kid
    assert {k["kid"] for k in keys.signing_keys().jwks()["keys"]} == {old_kid, new_key.kid}


def test_id_token_carries_oidc_claims(settings, user: User, pair: TokenPair) -> None:
    user.profile.first_name, user.profile.last_name = "Ada", "Lovelace"
    user.profile.save()

    id_token = id_token_issue(user=user, session=pair.session, audience="client-1", nonce="n-0S6")

    kid = jwt.get_unverified_header(id_token)["kid"]
    public_jwk = next(k for k in keys.signing_keys().jwks()["keys"] if k["kid"] == kid)
    claims = jwt.decode(
        id_token,
        jwt.PyJWK(public_jwk).key,
        algorithms=["RS256"],
        audience="client-1",
        issuer=settings.PORTAL_URL,
    )
    assert claims["sub"] == str(user.public_id)
    assert claims["sid"] == str(pair.session.pk)
    assert claims["nonce"] == "n-0S6"
    assert claims["auth_time"] == int(pair.session.created_at.timestamp())
    assert claims["exp"] - claims["iat"] == 300
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["preferred_username"] == user.username
    assert claims["name"] == "Ada Lovelace"


def test_purge_expired_sessions_deletes_old_rows_in_batches(user: User) -> None:
    now = timezone.now()
    old = now - timedelta(days=40)
    recent = now - timedelta(days=10)
    expired_long_ago = UserSession.objects.create(user=user, channel="api", expires_at=old)
    revoked_long_ago = UserSession.objects.create(
        user=user, channel="api", expires_at=now + timedelta(days=1), revoked_at=old
    )
    expired_recently = UserSession.objects.create(user=user, channel="api", expires_at=recent)
    live = UserSession.objects.create(user=user, channel="api", expires_at=now + timedelta(days=1))

    call_command("purge_expired_sessions", "--batch-size", "1")

    remaining = set(UserSession.objects.values_list("pk", flat=True))
    assert remaining == {expired_recently.pk, live.pk}
    assert expired_long_ago.pk not in remaining
    assert revoked_long_ago.pk not in remaining


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_let_only_one_win(user: User) -> None:
    pair = api_session_start(user=user, ip=None, user_agent="")
    barrier = threading.Barrier(4)

    def refresh() -> str:
        barrier.wait()
        try:
            token_refresh(refresh_token=pair.refresh_token)
            return "ok"
        except InvalidToken:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: refresh(), range(4)))

    assert outcomes.count("ok") == 1
    # The losers look exactly like a replay of a rotated token: the sign-in ends.
    assert UserSession.objects.get(pk=pair.session.pk).revoked_at is not None


# -- how the sign-in was proven: amr/acr in first-party tokens ---------------------------------
def test_access_and_id_tokens_say_how_the_sign_in_was_proven(user: User) -> None:
    password_only = api_session_start(user=user, ip=None, user_agent="pytest/1.0")
    with_app = api_session_start(user=user, ip=None, user_agent="pytest/1.0", amr="pwd otp")
    with_passkey = api_session_start(user=user, ip=None, user_agent="pytest/1.0", amr="hwk")
    assert {k: _claims(password_only.access_token)[k] for k in ("amr", "acr")} == {
        "amr": ["pwd"],
        "acr": "pwd",
    }
    assert {k: _claims(with_app.access_token)[k] for k in ("amr", "acr")} == {
        "amr": ["pwd", "otp", "mfa"],
        "acr": "mfa",
    }
    assert {k: _claims(with_passkey.access_token)[k] for k in ("amr", "acr")} == {
        "amr": ["hwk", "user", "mfa"],
        "acr": "phr",
    }
    id_claims = _claims(id_token_issue(user=user, session=with_app.session, audience="client-1"))
    assert (id_claims["amr"], id_claims["acr"]) == (["pwd", "otp", "mfa"], "mfa")


def test_refresh_keeps_the_sign_ins_amr_and_follows_a_step_up(user: User) -> None:
    pair = api_session_start(user=user, ip=None, user_agent="pytest/1.0", amr="pwd rc")
    refreshed = token_refresh(refresh_token=pair.refresh_token)
    # A recovery code is a one-time code in the RFC 8176 vocabulary.
    assert _claims(refreshed.access_token)["amr"] == ["pwd", "otp", "mfa"]
    assert _claims(refreshed.access_token)["acr"] == "mfa"
    session_proof_renew(session_id=str(pair.session.pk), amr="swk")
    stepped_up = token_refresh(refresh_token=refreshed.refresh_token)
    assert _claims(stepped_up.access_token)["acr"] == "phr"
    # The proof belongs to the sign-in: a token of another sign-in does not gain it.
    other = api_session_start(user=user, ip=None, user_agent="pytest/1.0")
    assert _claims(token_refresh(refresh_token=other.refresh_token).access_token)["acr"] == "pwd"
