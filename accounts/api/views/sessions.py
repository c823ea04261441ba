"""Sign-ins and sign-in history over the API: the user's own, and any user's for admins."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.views.me import current_session_id
from accounts.api.views.users import PUBLIC_ID
from accounts.errors import UserNotFound
from accounts.models import LoginEvent, LoginOutcome, UserSession
from accounts.services.mfa.amr import amr_methods, proof_label
from authz.api.permissions import HasPermission
from identity.api.lookups import get_or_404
from identity.api.pagination import PageNumberPagination
from identity.api.schema import problems
from identity.api.scopes import ADMINISTRATION, NO_OAUTH, OWN_ACCOUNT_READ_ONLY

SESSION_ID = OpenApiParameter("session_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
# Reading another user's sessions and history needs users.read; ending them sessions.revoke.
ADMIN_SESSIONS = HasPermission("users.read", write="sessions.revoke")


AMR_HELP = (
    "How the sign-in was proven: pwd (password), otp (authenticator app), rc (recovery code), "
    "hwk / swk (passkey: device-bound / synced)."
)
PROOF_HELP = 'The same in words, e.g. "Password + Authenticator app".'


class _ProofFields(serializers.Serializer):
    """``amr`` and ``proof`` of a sign-in (read-only); none for a failed attempt."""

    amr = serializers.SerializerMethodField(help_text=AMR_HELP)
    proof = serializers.SerializerMethodField(help_text=PROOF_HELP)

    def get_amr(self, row: UserSession | LoginEvent) -> list[str]:
        return amr_methods(row.amr) if _proven(row) else []

    def get_proof(self, row: UserSession | LoginEvent) -> str:
        return proof_label(row.amr) if _proven(row) else ""


def _proven(row: UserSession | LoginEvent) -> bool:
    return not isinstance(row, LoginEvent) or row.outcome == LoginOutcome.SUCCESS


class SessionOutputSerializer(_ProofFields, serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="The sign-in making this request.")

    class Meta:
        model = UserSession
        fields = (
            "id",
            "channel",
            "ip",
            "device_label",
            "user_agent",
            "created_at",
            "last_seen_at",
            "expires_at",
            "current",
            "amr",
            "proof",
        )
        read_only_fields = fields

    def get_current(self, session: UserSession) -> bool:
        return str(session.pk) == self.context.get("current_session_id")


class LoginEventOutputSerializer(_ProofFields, serializers.ModelSerializer):
    class Meta:
        model = LoginEvent
        fields = (
            "id",
            "created_at",
            "outcome",
            "channel",
            "ip",
            "device_label",
            "user_agent",
            "amr",
            "proof",
        )
        read_only_fields = fields


class AdminLoginEventOutputSerializer(LoginEventOutputSerializer):
    class Meta(LoginEventOutputSerializer.Meta):
        fields = (*LoginEventOutputSerializer.Meta.fields, "identifier")
        read_only_fields = fields


class RevokedOutputSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many sign-ins were ended.")


class _SessionList(ListAPIView):
    pagination_class = PageNumberPagination
    serializer_class = SessionOutputSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "current_session_id": current_session_id(self.request),
        }


@extend_schema_view(get=extend_schema(operation_id="me_sessions_list"))
class MeSessionListApi(_SessionList):
    """The caller's live sign-ins on every channel, newest activity first."""

    oauth_scopes = OWN_ACCOUNT_READ_ONLY
    permission_classes = (IsAuthenticated,)

    def get_queryset(self) -> QuerySet[UserSession]:
        return selectors.user_sessions_live(user=self.request.user)


class MeSessionRevokeApi(APIView):
    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="me_sessions_revoke",
        parameters=[SESSION_ID],
        request=None,
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        services.user_session_revoke(
            user=request.user, session_id=str(session_id), reason="signed_out_by_user"
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSessionsRevokeOthersApi(APIView):
    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="me_sessions_revoke_others",
        request=None,
        responses={200: RevokedOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        count = services.user_sessions_revoke(
            user=request.user,
            reason="signed_out_by_user",
            except_session_id=current_session_id(request),
        )
        return Response({"revoked": count})


@extend_schema_view(get=extend_schema(operation_id="me_login_history_list"))
class MeLoginHistoryApi(ListAPIView):
    """The caller's sign-in attempts, newest first."""

    oauth_scopes = OWN_ACCOUNT_READ_ONLY
    permission_classes = (IsAuthenticated,)
    pagination_class = PageNumberPagination
    serializer_class = LoginEventOutputSerializer

    def get_queryset(self) -> QuerySet[LoginEvent]:
        return selectors.login_history_list(user=self.request.user)


@extend_schema_view(
    get=extend_schema(
        operation_id="users_sessions_list",
        parameters=[PUBLIC_ID],
        responses={200: SessionOutputSerializer(many=True), **problems(404)},
    )
)
class UserSessionListApi(_SessionList):
    oauth_scopes = ADMINISTRATION
    permission_classes = (ADMIN_SESSIONS,)

    def get_queryset(self) -> QuerySet[UserSession]:
        user = selectors.user_get_for_admin(public_id=self.kwargs["public_id"])
        return selectors.user_sessions_live(user=get_or_404(user, error=UserNotFound))


class UserSessionRevokeApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (ADMIN_SESSIONS,)

    @extend_schema(
        operation_id="users_sessions_revoke",
        parameters=[PUBLIC_ID, SESSION_ID],
        request=None,
        responses={204: None, **problems(403, 404)},
    )
    def delete(self, request: Request, public_id: str, session_id: uuid.UUID) -> Response:
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        services.user_session_revoke_by_admin(
            actor=request.user, user=user, session_id=str(session_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        operation_id="users_login_history_list",
        parameters=[PUBLIC_ID],
        responses={200: AdminLoginEventOutputSerializer(many=True), **problems(404)},
    )
)
class UserLoginHistoryApi(ListAPIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (HasPermission("users.read"),)
    pagination_class = PageNumberPagination
    serializer_class = AdminLoginEventOutputSerializer

    def get_queryset(self) -> QuerySet[LoginEvent]:
        user = selectors.user_get_for_admin(public_id=self.kwargs["public_id"])
        return selectors.login_history_list(user=get_or_404(user, error=UserNotFound))
