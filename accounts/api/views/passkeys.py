"""Passkeys over the API: signing in with one, the second step's options, and self-service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import LoginOutputSerializer
from accounts.api.views.auth import token_body
from accounts.api.views.base import ThrottledPublicApi, no_store
from accounts.api.views.me import ReauthenticationInputSerializer, reauthenticate
from accounts.api.views.mfa_login import api_pending
from accounts.models import Channel, Passkey, User
from accounts.services import request_client
from accounts.services.login import sign_in_succeed
from accounts.services.mfa import passkeys
from accounts.tokens import api_session_start
from identity.api import serializers as strict
from identity.api.schema import problems
from identity.api.scopes import NO_OAUTH
from identity.api.serializers import validated

CREDENTIAL_HELP = "The credential as PublicKeyCredential.toJSON() gives it (WebAuthn JSON)."


class CredentialField(serializers.DictField):
    """The browser's credential JSON; py_webauthn checks its shape (wrong: passkey_invalid)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(help_text=CREDENTIAL_HELP, **kwargs)


class PasskeyOutputSerializer(strict.OutputSerializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    backup_eligible = serializers.BooleanField(help_text="A synced passkey (it can be backed up).")
    backed_up = serializers.BooleanField()


@no_store
class PasskeySignInOptionsApi(ThrottledPublicApi):
    """Options for navigator.credentials.get() with any passkey of this site (discoverable)."""

    throttle_scope = "login"

    @extend_schema(
        operation_id="auth_passkey_options", request=None, responses={200: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request) -> Response:
        return Response(passkeys.passkey_sign_in_options())


@no_store
class PasskeySignInApi(ThrottledPublicApi):
    """A passkey alone signs in: possession plus the user verification it requires."""

    throttle_scope = "login"

    class InputSerializer(strict.InputSerializer):
        credential = CredentialField()

    @extend_schema(
        operation_id="auth_passkey",
        request=InputSerializer,
        responses={200: LoginOutputSerializer, **problems(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        passkey = passkeys.passkey_sign_in(credential=data["credential"])
        return Response(_tokens(request, passkey.user, amr=passkey.amr))


def _tokens(request: Request, user: User, *, amr: str) -> dict[str, Any]:
    sign_in_succeed(
        request=request._request, user=user, login=user.username, channel=Channel.API, amr=amr
    )
    client = request_client(request._request)
    pair = api_session_start(user=user, ip=client["ip"], user_agent=client["user_agent"], amr=amr)
    return token_body(pair, user=user)


@no_store
class MfaWebauthnOptionsApi(ThrottledPublicApi):
    """Options for proving a passkey in the second step of a sign-in (after the password)."""

    throttle_scope = "login"

    class InputSerializer(strict.InputSerializer):
        mfa_token = strict.CharField(max_length=200)

    @extend_schema(
        operation_id="auth_login_mfa_webauthn_options",
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT, **problems(400)},
    )
    def post(self, request: Request) -> Response:
        token = validated(self.InputSerializer, request)["mfa_token"]
        return Response(passkeys.passkey_pending_options(pending=api_pending(token)))


class MePasskeyOptionsApi(APIView):
    """Options for navigator.credentials.create(): a new passkey for the signed-in user."""

    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="me_passkeys_options", request=None, responses={200: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request) -> Response:
        return Response(passkeys.passkey_registration_options(user=request.user))


class MePasskeyListApi(APIView):
    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    class CreateInputSerializer(ReauthenticationInputSerializer):
        name = strict.CharField(max_length=100)
        credential = CredentialField()

    class CreateOutputSerializer(PasskeyOutputSerializer):
        recovery_codes = serializers.ListField(
            child=serializers.CharField(), help_text="10 codes when this is the first factor."
        )

    @extend_schema(
        operation_id="me_passkeys_list", responses={200: PasskeyOutputSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        rows = Passkey.objects.filter(user=request.user)
        return Response([PasskeyOutputSerializer.represent(p) for p in rows])

    @extend_schema(
        operation_id="me_passkeys_create",
        request=CreateInputSerializer,
        responses={201: CreateOutputSerializer, **problems(400, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.CreateInputSerializer, request)
        reauthenticate(request, data)
        passkey, codes = passkeys.passkey_register(
            user=request.user, name=data["name"], credential=data["credential"]
        )
        passkey.recovery_codes = codes
        body = self.CreateOutputSerializer(passkey).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class MePasskeyDetailApi(APIView):
    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    class RenameInputSerializer(strict.InputSerializer):
        name = strict.CharField(max_length=100)

    @extend_schema(
        operation_id="me_passkeys_rename",
        request=RenameInputSerializer,
        responses={200: PasskeyOutputSerializer, **problems(404, 409)},
    )
    def patch(self, request: Request, passkey_id: str) -> Response:
        data = validated(self.RenameInputSerializer, request)
        passkey = passkeys.passkey_rename(user=request.user, passkey_id=passkey_id, **data)
        return Response(PasskeyOutputSerializer.represent(passkey))

    @extend_schema(
        operation_id="me_passkeys_delete",
        request=ReauthenticationInputSerializer,
        responses={204: None, **problems(403, 404)},
    )
    def delete(self, request: Request, passkey_id: str) -> Response:
        data = validated(ReauthenticationInputSerializer, request)
        passkeys.passkey_get(user=request.user, passkey_id=passkey_id)  # 404 before asking
        reauthenticate(request, data)
        passkeys.passkey_delete(user=request.user, passkey_id=passkey_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
