"""REST API: sign-up (through an application), an owner's applications (apps.manage sees all)
and the user's connected apps."""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import MeOutputSerializer, NewAccountInputSerializer
from accounts.api.views.base import ThrottledPublicApi
from identity.api import serializers as strict
from identity.api.lookups import get_or_404
from identity.api.schema import problems
from identity.api.scopes import ADMINISTRATION, NO_OAUTH, OWN_ACCOUNT_READ_ONLY
from identity.api.serializers import validated
from sso import selectors, services
from sso.api import serializers as s
from sso.models import Application


def _application(request: Request, client_id: str) -> Application:
    application = selectors.application_get(client_id=client_id)
    if application is not None and not selectors.application_can_manage(
        user=request.user, application=application
    ):
        application = None  # another owner's application answers as if there were none
    return get_or_404(application)


# Sign-up for everyone; naming an application's client_id also joins it, so the API lives in
# sso, the higher of the two apps it joins. No docstring: the schema's description of this
# operation stays the one it inherits.
class SignUpApi(ThrottledPublicApi):
    throttle_scope = "signup"
    throttle_identifier_field = "email"

    class InputSerializer(NewAccountInputSerializer):
        password = strict.PasswordField()
        client_id = strict.CharField(
            max_length=100,
            required=False,
            help_text="The application signed up through: the new user becomes a member of it "
            "unless it is restricted (members only; its owner adds them).",
        )

    @extend_schema(
        operation_id="auth_signup",
        request=InputSerializer,
        responses={201: MeOutputSerializer, **problems(403, 409)},
    )
    def post(self, request: Request) -> Response:
        data, profile = self.InputSerializer.split_profile(validated(self.InputSerializer, request))
        user = services.user_sign_up_through_application(**data, profile=profile)
        return Response(MeOutputSerializer(user).data, status=status.HTTP_201_CREATED)


# The create and rotate answers carry the client secret: never cached (ASVS V8.2.1).
@method_decorator(never_cache, name="dispatch")
class ApplicationListApi(ListAPIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)
    serializer_class = s.ApplicationOutputSerializer

    def get_queryset(self):
        return selectors.application_list(user=self.request.user)

    @extend_schema(
        operation_id="applications_create",
        request=s.ApplicationCreateInputSerializer,
        responses={201: s.ApplicationWithSecretSerializer, **problems(403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.ApplicationCreateInputSerializer, request)
        application, secret = services.application_create(owner=request.user, **data)
        body = s.ApplicationWithSecretSerializer(application, context={"client_secret": secret})
        return Response(body.data, status=status.HTTP_201_CREATED)


class ApplicationDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="applications_retrieve",
        responses={200: s.ApplicationOutputSerializer, **problems(404)},
    )
    def get(self, request: Request, client_id: str) -> Response:
        return Response(s.ApplicationOutputSerializer(_application(request, client_id)).data)

    @extend_schema(
        operation_id="applications_update",
        request=s.ApplicationUpdateInputSerializer,
        responses={200: s.ApplicationOutputSerializer, **problems(404, 409)},
    )
    def patch(self, request: Request, client_id: str) -> Response:
        application = _application(request, client_id)
        data = validated(s.ApplicationUpdateInputSerializer, request, partial=True)
        services.application_update(application=application, actor=request.user, **data)
        return Response(s.ApplicationOutputSerializer(application).data)

    @extend_schema(
        request=None, operation_id="applications_destroy", responses={204: None, **problems(404)}
    )
    def delete(self, request: Request, client_id: str) -> Response:
        services.application_delete(
            application=_application(request, client_id), actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(never_cache, name="dispatch")
class ApplicationSecretRotateApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="applications_rotate_secret",
        request=None,
        responses={200: s.ApplicationWithSecretSerializer, **problems(404)},
    )
    def post(self, request: Request, client_id: str) -> Response:
        application = _application(request, client_id)
        secret = services.application_secret_rotate(application=application, actor=request.user)
        body = s.ApplicationWithSecretSerializer(application, context={"client_secret": secret})
        return Response(body.data)


class ApplicationMemberListApi(ListAPIView):
    """Accepted members by username; pending invitations only by what the owner typed."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)
    serializer_class = s.MemberOutputSerializer

    def get_queryset(self):
        application = _application(self.request, self.kwargs["client_id"])
        return selectors.application_member_list(application=application)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        application = _application(request, self.kwargs["client_id"])
        invitations = selectors.application_invitation_list(application=application)
        response.data["invitations"] = s.InvitationOutputSerializer(invitations, many=True).data
        return response

    @extend_schema(
        operation_id="applications_members_create",
        request=s.MemberInputSerializer,
        responses={202: None, **problems(400, 404)},
    )
    def post(self, request: Request, client_id: str) -> Response:
        application = _application(request, client_id)
        data = validated(s.MemberInputSerializer, request)
        login = data.get("login") or str(data["user"])
        invitation = services.application_member_invite(
            application=application,
            login=login,
            invited_by=request.user,
            by_public_id="user" in data and not data.get("login"),
        )
        # 202 and the same body whether or not an account matches (ASVS 5.0 V6.3.8).
        return Response(
            {"login": invitation.login, "status": "invited"}, status=status.HTTP_202_ACCEPTED
        )


class ApplicationMemberDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=None,
        operation_id="applications_members_destroy",
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, client_id: str, user_id: str) -> Response:
        application = _application(request, client_id)
        user = get_or_404(selectors.member_user_get(application=application, public_id=user_id))
        services.application_member_remove(application=application, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApplicationInvitationDetailApi(APIView):
    """Withdraws a pending invitation: 204 for any id, known account or not, even one already
    accepted or withdrawn, so the answer never tells what became of it."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=None,
        operation_id="applications_invitations_destroy",
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, client_id: str, invitation_id: str) -> Response:
        application = _application(request, client_id)
        services.application_invitation_withdraw(application=application, public_id=invitation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectedAppListApi(ListAPIView):
    oauth_scopes = OWN_ACCOUNT_READ_ONLY
    permission_classes = (IsAuthenticated,)
    serializer_class = s.ConnectedAppOutputSerializer

    def get_queryset(self):
        return selectors.connected_app_list(user=self.request.user)


class ConnectedAppDetailApi(APIView):
    oauth_scopes = NO_OAUTH
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=None,
        operation_id="me_connected_apps_destroy",
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, client_id: str) -> Response:
        consent = get_or_404(
            selectors.connected_app_list(user=request.user)
            .filter(application__client_id=client_id)
            .first()
        )
        services.connected_app_revoke(user=request.user, application=consent.application)
        return Response(status=status.HTTP_204_NO_CONTENT)
