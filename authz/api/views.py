"""Authorization API: permissions, roles, a user's roles (roles.read / roles.write), the
caller's own permissions and the permission check."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authz import selectors, services
from authz.api import serializers as s
from authz.api.permissions import PERMISSION_DENIED, HasPermission
from authz.errors import UserNotFound
from authz.models import Permission, Role, RoleAssignment
from identity.api.errors import PROBLEM_CONTENT_TYPE, problem_body
from identity.api.lookups import get_or_404
from identity.api.pagination import PageNumberPagination
from identity.api.schema import problems
from identity.api.scopes import (
    ADMIN_READ,
    ADMINISTRATION,
    OWN_ACCOUNT_READ_ONLY,
    READ,
    oauth_scope_demand,
    oauth_scopes,
)
from identity.api.serializers import validated

ROLES_PERMISSION = HasPermission("roles.read", write="roles.write")
CHECK_OTHERS = "authz.check"
# A question asked by POST; asking about someone else also needs admin.read (CheckApi._target).
CHECK_SCOPES = oauth_scopes(post=READ)
PUBLIC_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


# --- permissions -------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(operation_id="permissions_list"))
class PermissionListApi(ListAPIView):
    """GET lists permissions; POST creates one."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = s.PermissionOutputSerializer

    def get_queryset(self) -> QuerySet[Permission]:
        return selectors.permission_list()

    @extend_schema(
        operation_id="permissions_create",
        request=s.PermissionCreateInputSerializer,
        responses={201: s.PermissionOutputSerializer, **problems(409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.PermissionCreateInputSerializer, request)
        permission = services.permission_create(**data, actor=request.user)
        return Response(s.PermissionOutputSerializer(permission).data, status=201)


class PermissionDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)

    @extend_schema(
        operation_id="permissions_retrieve",
        responses={200: s.PermissionOutputSerializer, **problems(404)},
    )
    def get(self, request: Request, code: str) -> Response:
        permission = selectors.permission_get(code=code)
        return Response(s.PermissionOutputSerializer(permission).data)

    @extend_schema(
        operation_id="permissions_update",
        request=s.PermissionUpdateInputSerializer,
        responses={200: s.PermissionOutputSerializer, **problems(404)},
    )
    def patch(self, request: Request, code: str) -> Response:
        permission = selectors.permission_get(code=code)
        data = validated(s.PermissionUpdateInputSerializer, request)
        permission = services.permission_update(
            permission=permission, description=data["description"], actor=request.user
        )
        return Response(s.PermissionOutputSerializer(permission).data)

    @extend_schema(
        operation_id="permissions_delete", request=None, responses={204: None, **problems(404)}
    )
    def delete(self, request: Request, code: str) -> Response:
        permission = selectors.permission_get(code=code)
        services.permission_delete(permission=permission, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- roles -------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(operation_id="roles_list"))
class RoleListApi(ListAPIView):
    """GET lists roles with their permissions; POST creates one."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = s.RoleOutputSerializer

    def get_queryset(self) -> QuerySet[Role]:
        return selectors.role_list()

    @extend_schema(
        operation_id="roles_create",
        request=s.RoleCreateInputSerializer,
        responses={201: s.RoleOutputSerializer, **problems(409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RoleCreateInputSerializer, request)
        role = services.role_create(**data, actor=request.user)
        role = selectors.role_get(name=role.name)
        return Response(s.RoleOutputSerializer(role).data, status=201)


class RoleDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)

    @extend_schema(
        operation_id="roles_retrieve", responses={200: s.RoleOutputSerializer, **problems(404)}
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(s.RoleOutputSerializer(selectors.role_get(name=name)).data)

    @extend_schema(
        operation_id="roles_update",
        request=s.RoleUpdateInputSerializer,
        responses={200: s.RoleOutputSerializer, **problems(404, 409)},
    )
    def patch(self, request: Request, name: str) -> Response:
        role = selectors.role_get(name=name)
        data = validated(s.RoleUpdateInputSerializer, request)
        role = services.role_update(role=role, **data, actor=request.user)
        return Response(s.RoleOutputSerializer(selectors.role_get(name=role.name)).data)

    @extend_schema(
        operation_id="roles_delete", request=None, responses={204: None, **problems(404)}
    )
    def delete(self, request: Request, name: str) -> Response:
        services.role_delete(role=selectors.role_get(name=name), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- a user's roles ----------------------------------------------------------------------


@extend_schema_view(get=extend_schema(operation_id="user_roles_list", parameters=[PUBLIC_ID]))
class UserRoleListApi(ListAPIView):
    """GET lists the user's role assignments, expired ones included; POST assigns a role."""

    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)
    pagination_class = PageNumberPagination
    serializer_class = s.AssignmentOutputSerializer

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        user = selectors.user_get(public_id=self.kwargs["public_id"])
        return selectors.user_assignment_list(user=get_or_404(user, error=UserNotFound))

    @extend_schema(
        operation_id="user_roles_assign",
        parameters=[PUBLIC_ID],
        request=s.AssignmentInputSerializer,
        responses={201: s.AssignmentOutputSerializer, **problems(404, 409)},
    )
    def post(self, request: Request, public_id: str) -> Response:
        user = get_or_404(selectors.user_get(public_id=public_id), error=UserNotFound)
        data = validated(s.AssignmentInputSerializer, request)
        assignment = services.role_assign(
            user=user,
            role=selectors.role_get(name=data["role"]),
            granted_by=request.user,
            expires_at=data["expires_at"],
        )
        return Response(s.AssignmentOutputSerializer(assignment).data, status=201)


class UserRoleDetailApi(APIView):
    oauth_scopes = ADMINISTRATION
    permission_classes = (ROLES_PERMISSION,)

    @extend_schema(
        operation_id="user_roles_revoke",
        parameters=[PUBLIC_ID],
        request=None,
        responses={204: None, **problems(404)},
    )
    def delete(self, request: Request, public_id: str, name: str) -> Response:
        user = get_or_404(selectors.user_get(public_id=public_id), error=UserNotFound)
        role = selectors.role_get(name=name)
        services.role_unassign(user=user, role=role, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the caller's permissions, and checks ------------------------------------------------


class MyPermissionsApi(APIView):
    """The caller's roles (included ones expanded) and effective permissions."""

    oauth_scopes = OWN_ACCOUNT_READ_ONLY

    @extend_schema(operation_id="me_permissions", responses={200: s.MyPermissionsOutputSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        body = {
            "roles": selectors.user_roles(user=user),
            "permissions": sorted(selectors.user_effective_permissions(user=user)),
        }
        return Response(s.MyPermissionsOutputSerializer(body).data)


class CheckApi(APIView):
    """Does a user (the caller unless ``user`` is given) hold a permission? 200 if so, 403
    ``permission_denied`` if not. Checking someone else requires authz.check, and then a
    denial lists the roles that would grant the permission."""

    oauth_scopes = CHECK_SCOPES

    @extend_schema(
        operation_id="authz_check",
        request=s.CheckInputSerializer,
        responses={200: s.CheckOutputSerializer, **problems(403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.CheckInputSerializer, request)
        code, target = data["permission"], self._target(request, data["user"])
        if not selectors.user_has_permission(user=target, code=code):
            return self._denied(request, target=target, code=code)
        body = {
            "allowed": True,
            "permission": code,
            "user": target.public_id,
            "granted_by": selectors.permission_grantors(user=target, code=code),
            "superuser": bool(target.is_superuser),
        }
        return Response(s.CheckOutputSerializer(body).data)

    def _target(self, request: Request, public_id: Any) -> Any:
        if public_id is None or public_id == request.user.public_id:
            return request.user
        oauth_scope_demand(request, ADMIN_READ)
        if not selectors.user_has_permission(user=request.user, code=CHECK_OTHERS):
            self.permission_denied(
                request, f"This requires the permission {CHECK_OTHERS}.", PERMISSION_DENIED
            )
        return get_or_404(selectors.user_get(public_id=public_id), error=UserNotFound)

    def _denied(self, request: Request, *, target: Any, code: str) -> Response:
        who = "You do" if target.pk == request.user.pk else f"{target.get_username()} does"
        body = problem_body(
            status=403, code=PERMISSION_DENIED, detail=f"{who} not hold the permission {code}."
        )
        body["permission"] = code
        if target.pk != request.user.pk:
            # RFC 9457 §3.2 extension member: what an administrator could grant.
            body["roles_granting"] = selectors.roles_granting(code=code)
        return Response(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
