"""REST API routes for authorization (/api/v1/...)."""

from __future__ import annotations

from django.urls import path

from authz.api import views

app_name = "authz"

urlpatterns = [
    path("permissions/", views.PermissionListApi.as_view(), name="permissions"),
    path("permissions/<str:code>/", views.PermissionDetailApi.as_view(), name="permission"),
    path("roles/", views.RoleListApi.as_view(), name="roles"),
    path("roles/<str:name>/", views.RoleDetailApi.as_view(), name="role"),
    path("users/<str:public_id>/roles/", views.UserRoleListApi.as_view(), name="user_roles"),
    path(
        "users/<str:public_id>/roles/<str:name>/",
        views.UserRoleDetailApi.as_view(),
        name="user_role",
    ),
    path("me/permissions/", views.MyPermissionsApi.as_view(), name="me_permissions"),
    path("authz/check/", views.CheckApi.as_view(), name="check"),
]
