"""REST API routes of single sign-on (/api/v1/...)."""

from __future__ import annotations

from django.urls import path

from sso.api import views

app_name = "sso"

urlpatterns = [
    path("auth/signup/", views.SignUpApi.as_view(), name="signup"),
    path("applications/", views.ApplicationListApi.as_view(), name="applications"),
    path("applications/<str:client_id>/", views.ApplicationDetailApi.as_view(), name="application"),
    path(
        "applications/<str:client_id>/rotate-secret/",
        views.ApplicationSecretRotateApi.as_view(),
        name="application_rotate_secret",
    ),
    path(
        "applications/<str:client_id>/members/",
        views.ApplicationMemberListApi.as_view(),
        name="application_members",
    ),
    path(
        "applications/<str:client_id>/members/<str:user_id>/",
        views.ApplicationMemberDetailApi.as_view(),
        name="application_member",
    ),
    path(
        "applications/<str:client_id>/invitations/<str:invitation_id>/",
        views.ApplicationInvitationDetailApi.as_view(),
        name="application_invitation",
    ),
    path("me/connected-apps/", views.ConnectedAppListApi.as_view(), name="connected_apps"),
    path(
        "me/connected-apps/<str:client_id>/",
        views.ConnectedAppDetailApi.as_view(),
        name="connected_app",
    ),
]
