"""Self-service for the signed-in user: account, profile, password, deletion."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    MeOutputSerializer,
    ProfileInputSerializer,
    ProfileOutputSerializer,
)
from accounts.models import Profile, User
from accounts.services.login import user_reauthenticate
from accounts.services.sessions import SESSION_ID_KEY
from identity.api import serializers as strict
from identity.api.schema import problems
from identity.api.scopes import NO_OAUTH, OWN_ACCOUNT, OWN_ACCOUNT_READ_ONLY
from identity.api.serializers import validated


def current_session_id(request: Request) -> str | None:
    """The sign-in making this request: the token's sid, or the browser's session row."""
    auth = request.auth
    if auth is not None and hasattr(auth, "get"):
        return auth.get("sid")
    session = getattr(request._request, "session", None)
    return session.get(SESSION_ID_KEY) if session is not None else None


class ReauthenticationInputSerializer(strict.InputSerializer):
    """Either proves the holder again; neither is needed on a sign-in proven within
    REAUTHENTICATION_SECONDS (403 reauthentication_required otherwise)."""

    current_password = strict.PasswordField(required=False)
    code = strict.CharField(
        required=False,
        max_length=64,
        help_text="A code of the authenticator app or a recovery code.",
    )


def reauthenticate(request: Request, data: dict[str, Any]) -> None:
    """A sensitive self-service call (a factor, recovery codes): a recent proof, on the sign-in
    making the request (accounts.services.login.user_reauthenticate)."""
    user_reauthenticate(
        request=request._request,
        user=request.user,
        password=data.get("current_password"),
        code=data.get("code"),
        session_id=current_session_id(request),
    )


class MeApi(APIView):
    oauth_scopes = OWN_ACCOUNT_READ_ONLY  # email, username and deletion: first-party only
    permission_classes = (IsAuthenticated,)

    class UpdateInputSerializer(strict.InputSerializer):
        username = strict.CharField(max_length=150, required=False)
        email = strict.EmailField(
            max_length=254, required=False, help_text="A new address waits for verification."
        )
        current_password = strict.PasswordField(
            required=False,
            help_text="A new email address needs a recent proof: this, or ``code``, or a "
            "token whose sign-in was proven within REAUTHENTICATION_SECONDS; else 403 "
            "reauthentication_required. Wrong: 400 incorrect_password.",
        )
        code = strict.CharField(
            max_length=64,
            required=False,
            help_text="Instead of current_password: a code of the authenticator app or a "
            "recovery code. Wrong: 400 invalid_code.",
        )
        # Accepted so that a client may send back what it read; never changed here.
        public_id = serializers.UUIDField(read_only=True)
        email_verified = serializers.BooleanField(read_only=True)
        user_type = serializers.CharField(read_only=True)
        date_joined = serializers.DateTimeField(read_only=True)

    class UpdateOutputSerializer(MeOutputSerializer):
        pending_email = serializers.EmailField(
            allow_blank=True, help_text="The new address waiting for verification, or empty."
        )

    class DeleteInputSerializer(strict.InputSerializer):
        """A recent proof, as for an email change: the password or a code, or neither with a
        token whose sign-in was proven within REAUTHENTICATION_SECONDS."""

        password = strict.PasswordField(required=False)
        code = strict.CharField(max_length=64, required=False)

    @extend_schema(operation_id="me_retrieve", responses={200: MeOutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(MeOutputSerializer.represent(request.user))

    @extend_schema(
        operation_id="me_update",
        request=UpdateInputSerializer,
        responses={200: UpdateOutputSerializer, **problems(400, 403, 409, 429)},
    )
    def patch(self, request: Request) -> Response:
        data = validated(self.UpdateInputSerializer, request)
        user = services.user_update_own(
            user=request.user,
            data=data,
            current_password=data.pop("current_password", None),
            code=data.pop("code", None),
            session_id=current_session_id(request),
            request=request._request,
        )
        user.pending_email = services.email_change_pending(user=user)
        return Response(self.UpdateOutputSerializer(user).data)

    @extend_schema(
        operation_id="me_delete",
        request=DeleteInputSerializer,
        responses={204: None, **problems(400, 403, 429)},
    )
    def delete(self, request: Request) -> Response:
        services.user_delete(
            user=request.user,
            session_id=current_session_id(request),
            request=request._request,
            **validated(self.DeleteInputSerializer, request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeProfileApi(APIView):
    oauth_scopes = OWN_ACCOUNT
    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="me_profile_retrieve", responses={200: ProfileOutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(ProfileOutputSerializer(_profile(request.user)).data)

    @extend_schema(
        operation_id="me_profile_replace",
        request=ProfileInputSerializer,
        responses={200: ProfileOutputSerializer},
    )
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="me_profile_update",
        request=ProfileInputSerializer(partial=True),
        responses={200: ProfileOutputSerializer},
    )
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        data = validated(ProfileInputSerializer, request, partial=partial)
        profile = services.profile_update(user=request.user, data=data, actor=request.user)
        return Response(ProfileOutputSerializer(profile).data)


class MePasswordApi(APIView):
    """Changes the password; every other sign-in of the user ends, this one stays."""

    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    class InputSerializer(strict.InputSerializer):
        current_password = strict.PasswordField()
        new_password = strict.PasswordField()
        new_password_confirm = strict.PasswordField()

    @extend_schema(
        operation_id="me_password_change", request=InputSerializer, responses={204: None}
    )
    def post(self, request: Request) -> Response:
        services.password_change(
            user=request.user,
            keep_session_id=current_session_id(request),
            request=request._request,
            **validated(self.InputSerializer, request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _profile(user: User) -> Profile:
    # An account made before profiles existed reads as an empty one; saving creates it.
    return Profile.objects.filter(user=user).first() or Profile(user=user)
