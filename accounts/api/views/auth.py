"""Anonymous entry points: email verification, tokens, password reset (sign-up is sso's)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api.serializers import (
    DetailOutputSerializer,
    LoginOutputSerializer,
)
from accounts.api.views.base import (
    PublicApi,
    ThrottledPublicApi,
    api_authenticate,
    no_store,
)
from accounts.models import AuthMethod, User
from accounts.tokens import (
    InvalidToken,
    TokenPair,
    access_token_verify,
    api_session_end,
    api_session_start,
    id_token_issue,
    token_refresh,
)
from identity.api import serializers as strict
from identity.api.schema import problems
from identity.api.serializers import validated
from identity.http import authorization
from identity.timing import response_floor

ACCEPTED = "If the address or account exists, an email is on its way."


def token_body(pair: TokenPair, *, user: User | None = None) -> dict:
    body = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }
    if user is not None:
        body["id_token"] = id_token_issue(
            user=user, session=pair.session, audience=settings.PORTAL_URL
        )
    return body


def session_start(request: Request, user: User, *, amr: str = AuthMethod.PASSWORD) -> dict:
    """Tokens for a sign-in proven by ``amr`` (stored AuthMethod values)."""
    client = services.request_client(request._request)
    pair = api_session_start(user=user, ip=client["ip"], user_agent=client["user_agent"], amr=amr)
    return token_body(pair, user=user)


class VerifyEmailApi(PublicApi):
    class InputSerializer(strict.InputSerializer):
        token = strict.CharField(max_length=200)

    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        email_verified = serializers.BooleanField()

    @extend_schema(
        operation_id="auth_verify_email",
        request=InputSerializer,
        responses={200: OutputSerializer, **problems(409)},
    )
    def post(self, request: Request) -> Response:
        user = services.email_verify(**validated(self.InputSerializer, request))
        return Response(self.OutputSerializer(user).data)


class VerifyEmailResendApi(ThrottledPublicApi):
    throttle_scope = "verify_resend"
    throttle_identifier_field = "email"

    class InputSerializer(strict.InputSerializer):
        email = strict.EmailField(max_length=254)

    @extend_schema(
        operation_id="auth_verify_email_resend",
        request=InputSerializer,
        responses={202: DetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        with response_floor():
            services.email_verification_resend(**validated(self.InputSerializer, request))
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


@no_store
class LoginApi(ThrottledPublicApi):
    throttle_scope = "login"
    throttle_identifier_field = "login"

    class InputSerializer(strict.InputSerializer):
        login = strict.CharField(max_length=254, help_text="Username or email address.")
        password = strict.PasswordField()

    @extend_schema(
        operation_id="auth_login",
        description="An account with a second factor gets 403 `mfa_required` with `mfa_token` "
        "and `methods` instead of tokens (continue at /api/v1/auth/login/mfa/); one that must "
        "set up a factor first gets 403 `mfa_enrollment_required`.",
        request=InputSerializer,
        responses={200: LoginOutputSerializer, **problems(401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        user = api_authenticate(request, login=data["login"], password=data["password"])
        return Response(session_start(request, user))


@no_store
class ConfirmAccountApi(ThrottledPublicApi):
    """First sign-in with a temporary password: choose a new one and receive tokens."""

    throttle_scope = "login"
    throttle_identifier_field = "login"

    class InputSerializer(strict.InputSerializer):
        login = strict.CharField(max_length=254)
        old_password = strict.PasswordField()
        new_password = strict.PasswordField()

    @extend_schema(
        operation_id="auth_confirm_account",
        description="As the login: an account with a second factor gets 403 `mfa_required` "
        "(the password is not changed) or `mfa_enrollment_required`.",
        request=InputSerializer,
        responses={200: LoginOutputSerializer, **problems(401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        user = api_authenticate(
            request, login=data["login"], password=data["old_password"], allow_password_change=True
        )
        services.account_confirm(user=user, new_password=data["new_password"])
        return Response(session_start(request, user))


class RefreshTokenInputSerializer(strict.InputSerializer):
    refresh_token = strict.CharField(max_length=4096)


@no_store
class RefreshApi(ThrottledPublicApi):
    throttle_scope = "refresh"

    @extend_schema(
        operation_id="auth_refresh",
        request=RefreshTokenInputSerializer,
        responses={200: LoginOutputSerializer, **problems(401, 403)},
    )
    def post(self, request: Request) -> Response:
        pair = token_refresh(**validated(RefreshTokenInputSerializer, request))
        # Like the login's answer: the id_token carries the claims as they are now.
        return Response(token_body(pair, user=pair.session.user))


class LogoutApi(PublicApi):
    """Ends the sign-in the refresh token belongs to; its refresh tokens die at once and its
    access tokens are refused on their next use."""

    @extend_schema(
        operation_id="auth_logout",
        request=RefreshTokenInputSerializer,
        responses={204: None, **problems(401)},
    )
    def post(self, request: Request) -> Response:
        api_session_end(**validated(RefreshTokenInputSerializer, request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@no_store
class TokenInfoApi(PublicApi):
    """The claims of the presented access token (verified locally, no database query)."""

    class OutputSerializer(serializers.Serializer):
        active = serializers.BooleanField()
        iss = serializers.CharField()
        sub = serializers.CharField()
        sid = serializers.CharField()
        exp = serializers.IntegerField()
        iat = serializers.IntegerField()
        jti = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())
        # How the sign-in was proven (RFC 8176 amr; acr pwd|mfa|phr); absent on older tokens.
        amr = serializers.ListField(child=serializers.CharField(), required=False)
        acr = serializers.CharField(required=False)

    @extend_schema(
        operation_id="auth_token_info",
        responses={200: OutputSerializer, **problems(401)},
        auth=[{"jwtAuth": []}],
    )
    def get(self, request: Request) -> Response:
        scheme, token = authorization(request)
        if scheme != "bearer" or not token:
            raise InvalidToken("Send the access token as: Authorization: Bearer <token>.")
        claims = access_token_verify(token=token)
        claims.setdefault("roles", [])
        return Response(self.OutputSerializer({"active": True, **claims}).data)


class PasswordResetApi(ThrottledPublicApi):
    throttle_scope = "password_reset"
    throttle_identifier_field = "login"

    class InputSerializer(strict.InputSerializer):
        login = strict.CharField(max_length=254, help_text="Username or email address.")

    @extend_schema(
        operation_id="auth_password_reset",
        request=InputSerializer,
        responses={202: DetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        with response_floor():
            services.password_reset_request(**validated(self.InputSerializer, request))
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(ThrottledPublicApi):
    throttle_scope = "password_reset_confirm"
    throttle_identifier_field = "login"

    class InputSerializer(strict.InputSerializer):
        login = strict.CharField(max_length=254)
        code = strict.CharField(max_length=32)
        new_password = strict.PasswordField()

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=InputSerializer,
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        services.password_reset_confirm(**validated(self.InputSerializer, request))
        return Response(status=status.HTTP_204_NO_CONTENT)
