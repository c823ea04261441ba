"""Self-service of second factors over the API: the authenticator app and recovery codes.

First-party callers only (a first-party token or the browser session): an OAuth access token,
whatever its scopes, must not let an application change how its user signs in. Starting or
removing an app and a new set of recovery codes need a recent proof (user_reauthenticate).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api.views.base import no_store
from accounts.api.views.me import ReauthenticationInputSerializer, reauthenticate
from accounts.services.mfa import (
    recovery_codes_regenerate,
    totp_enrol_confirm,
    totp_enrol_start,
    totp_remove,
)
from identity.api import serializers as strict
from identity.api.schema import problems
from identity.api.scopes import NO_OAUTH
from identity.api.serializers import validated


def _reauthenticate(request: Request) -> None:
    reauthenticate(request, validated(ReauthenticationInputSerializer, request))


class FactorsApi(APIView):
    """Shared by the views below: first-party, signed in."""

    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)


class TotpStateSerializer(serializers.Serializer):
    enrolled = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class PasskeySummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class FactorsOutputSerializer(serializers.Serializer):
    totp = TotpStateSerializer()
    passkeys = PasskeySummarySerializer(many=True)
    recovery_codes_left = serializers.IntegerField()


class RecoveryCodesOutputSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Shown once: 10 codes for a new set, [] when a further factor was added.",
    )


@no_store
class MeMfaApi(FactorsApi):
    """The signed-in user's second factors and recovery codes left; never a secret."""

    @extend_schema(operation_id="me_mfa_retrieve", responses={200: FactorsOutputSerializer})
    def get(self, request: Request) -> Response:
        factors = selectors.user_factors(user=request.user)
        totp = factors.totp
        body: dict[str, Any] = {
            "totp": {
                "enrolled": totp is not None,
                "created_at": totp.confirmed_at if totp else None,
                "last_used_at": selectors.totp_last_used_at(totp),
            },
            "passkeys": factors.passkeys,
            "recovery_codes_left": factors.recovery_codes_left,
        }
        return Response(FactorsOutputSerializer(body).data)


@no_store
class MeTotpApi(FactorsApi):
    """POST starts adding an authenticator app (its seed, shown once; live after confirm/),
    DELETE removes it. Both need ``current_password``, a ``code`` or a recent sign-in."""

    class StartOutputSerializer(serializers.Serializer):
        secret = serializers.CharField(help_text="Base32 seed, shown once.")
        otpauth_uri = serializers.CharField()

    @extend_schema(
        operation_id="me_mfa_totp_start",
        request=ReauthenticationInputSerializer,
        responses={200: StartOutputSerializer, **problems(400, 403, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        _reauthenticate(request)
        secret, uri = totp_enrol_start(user=request.user)
        return Response({"secret": secret, "otpauth_uri": uri})

    @extend_schema(
        operation_id="me_mfa_totp_delete",
        request=ReauthenticationInputSerializer,
        responses={204: None, **problems(400, 403, 404, 429)},
    )
    def delete(self, request: Request) -> Response:
        _reauthenticate(request)
        totp_remove(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@no_store
class MeTotpConfirmApi(FactorsApi):
    """Not guarded by a recent proof: only whoever started the enrolment (which was) holds
    the seed this code must come from."""

    class InputSerializer(strict.InputSerializer):
        code = strict.CharField(max_length=16)

    @extend_schema(
        operation_id="me_mfa_totp_confirm",
        request=InputSerializer,
        responses={200: RecoveryCodesOutputSerializer, **problems(400)},
    )
    def post(self, request: Request) -> Response:
        code = validated(self.InputSerializer, request)["code"]
        return Response({"recovery_codes": totp_enrol_confirm(user=request.user, code=code)})


@no_store
class MeRecoveryCodesApi(FactorsApi):
    """A new set of recovery codes, shown once; the old set stops working. Needs
    ``current_password``, a ``code`` or a recent sign-in."""

    @extend_schema(
        operation_id="me_mfa_recovery_codes_regenerate",
        request=ReauthenticationInputSerializer,
        responses={200: RecoveryCodesOutputSerializer, **problems(400, 403, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        _reauthenticate(request)
        return Response({"recovery_codes": recovery_codes_regenerate(user=request.user)})
