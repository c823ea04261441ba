"""Administration of users and email-domain rules (users.read / users.write)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import (
    DetailOutputSerializer,
    EmailDomainRuleOutputSerializer,
    NewAccountInputSerializer,
    ProfilePatchInputSerializer,
    UserOutputSerializer,
)
from accounts.api.views.auth import ACCEPTED
from accounts.errors import DomainRuleNotFound, UserNotFound
from accounts.models import EmailDomainRule, User, UserType
from authz.api.permissions import HasPermission
from identity.api import serializers as strict
from identity.api.lookups import get_or_404
from identity.api.pagination import PageNumberPagination
from identity.api.schema import problems
from identity.api.scopes import ADMINISTRATION
from identity.api.serializers import validated

# An administrator's explicit exception to the email-domain rules, recorded in the account's
# history; without it an address the rules refuse is refused here as at sign-up.
IGNORE_DOMAIN_RULES = strict.BooleanField(
    default=False,
    help_text="Make an exception to the email-domain rules for this address (recorded).",
)
USERS_PERMISSION = HasPermission("users.read", write="users.write")
PUBLIC_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class UserFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=254,
        help_text="Username or email prefix, any case.",
    )
    user_type = serializers.ChoiceField(choices=UserType.choices, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    ordering = serializers.ChoiceField(
        choices=selectors.USER_ORDERINGS, required=False, allow_blank=True, default="username"
    )


@extend_schema_view(
    get=extend_schema(
        operation_id="users_list",
        parameters=[UserFilterSerializer],
        responses={200: UserOutputSerializer(many=True), **problems(400)},
    )
)
class UserListApi(ListAPIView):
    """GET lists users; POST creates one with a temporary password, or invites by email."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (USERS_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = UserOutputSerializer

    class CreateInputSerializer(NewAccountInputSerializer):
        user_type = strict.ChoiceField(choices=UserType.choices, default=UserType.CUSTOMER)
        password = strict.PasswordField(
            required=False,
            allow_null=True,
            help_text="A temporary password the user must change; omit to send an invitation.",
        )
        email_verified = strict.BooleanField(default=False)
        ignore_domain_rules = IGNORE_DOMAIN_RULES

    def get_queryset(self) -> QuerySet[User]:
        filters = UserFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.user_list(**filters.validated_data)

    @extend_schema(
        operation_id="users_create",
        request=CreateInputSerializer,
        responses={201: UserOutputSerializer, **problems(403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.CreateInputSerializer, request)
        data, profile = self.CreateInputSerializer.split_profile(data)
        user = services.user_create(**data, profile=profile, actor=request.user)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (USERS_PERMISSION,)

    class UpdateInputSerializer(strict.InputSerializer):
        username = strict.CharField(max_length=150, required=False)
        email = strict.EmailField(max_length=254, required=False)
        user_type = strict.ChoiceField(choices=UserType.choices, required=False)
        is_active = strict.BooleanField(required=False)
        must_change_password = strict.BooleanField(required=False)
        profile = ProfilePatchInputSerializer(required=False)
        ignore_domain_rules = IGNORE_DOMAIN_RULES

    @extend_schema(
        operation_id="users_retrieve",
        parameters=[PUBLIC_ID],
        responses={200: UserOutputSerializer, **problems(404)},
    )
    def get(self, request: Request, public_id: str) -> Response:
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(
        operation_id="users_update",
        parameters=[PUBLIC_ID],
        request=UpdateInputSerializer,
        responses={200: UserOutputSerializer, **problems(403, 404, 409)},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        data = validated(self.UpdateInputSerializer, request)
        services.user_update_by_admin(actor=request.user, user=user, data=data)
        # Read back through the selector: the answer carries last_login like a GET's.
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(
        operation_id="users_delete",
        parameters=[PUBLIC_ID],
        request=None,
        responses={204: None, **problems(403, 404)},
    )
    def delete(self, request: Request, public_id: str) -> Response:
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        services.user_delete_by_admin(actor=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserPasswordResetApi(APIView):
    """Sends the user a password-reset email (link and code)."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (HasPermission("users.write"),)

    @extend_schema(
        operation_id="users_password_reset",
        parameters=[PUBLIC_ID],
        request=None,
        responses={202: DetailOutputSerializer, **problems(403, 404)},
    )
    def post(self, request: Request, public_id: str) -> Response:
        user = get_or_404(selectors.user_get_for_admin(public_id=public_id), error=UserNotFound)
        services.user_password_reset_by_admin(actor=request.user, user=user)
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class EmailDomainRuleInputSerializer(strict.InputSerializer):
    domain = strict.CharField(max_length=253, help_text="Also covers its subdomains.")
    action = strict.ChoiceField(choices=EmailDomainRule.Action.choices)
    note = strict.CharField(max_length=200, required=False, allow_blank=True)


@extend_schema_view(get=extend_schema(operation_id="email_domain_rules_list"))
class EmailDomainRuleListApi(ListAPIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (USERS_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = EmailDomainRuleOutputSerializer
    queryset = EmailDomainRule.objects.order_by("domain", "id")

    @extend_schema(
        operation_id="email_domain_rules_create",
        request=EmailDomainRuleInputSerializer,
        responses={201: EmailDomainRuleOutputSerializer, **problems(409)},
    )
    def post(self, request: Request) -> Response:
        rule = services.email_domain_rule_create(
            **validated(EmailDomainRuleInputSerializer, request)
        )
        return Response(EmailDomainRuleOutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class EmailDomainRuleDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (USERS_PERMISSION,)

    @extend_schema(
        operation_id="email_domain_rules_retrieve",
        responses={200: EmailDomainRuleOutputSerializer, **problems(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        rule = get_or_404(selectors.email_domain_rule_get(pk=pk), error=DomainRuleNotFound)
        return Response(EmailDomainRuleOutputSerializer(rule).data)

    @extend_schema(
        operation_id="email_domain_rules_update",
        request=EmailDomainRuleInputSerializer(partial=True),
        responses={200: EmailDomainRuleOutputSerializer, **problems(404, 409)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        rule = get_or_404(selectors.email_domain_rule_get(pk=pk), error=DomainRuleNotFound)
        data = validated(EmailDomainRuleInputSerializer, request, partial=True)
        rule = services.email_domain_rule_update(rule=rule, data=data)
        return Response(EmailDomainRuleOutputSerializer(rule).data)

    @extend_schema(
        operation_id="email_domain_rules_delete",
        request=None,
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        rule = get_or_404(selectors.email_domain_rule_get(pk=pk), error=DomainRuleNotFound)
        services.email_domain_rule_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)
