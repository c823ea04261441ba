"""Pages: an owner's applications under /developers/apps/, the user's connected apps under
/accounts/apps/ (they join accounts and sso, so they live in sso, the higher app)."""

from __future__ import annotations

from django.urls import path

from sso.views import pages

app_name = "sso"

urlpatterns = [
    path("developers/apps/", pages.ApplicationListView.as_view(), name="app_list"),
    path("developers/apps/new/", pages.ApplicationCreateView.as_view(), name="app_create"),
    path(
        "developers/apps/<str:client_id>/", pages.ApplicationDetailView.as_view(), name="app_detail"
    ),
    path(
        "developers/apps/<str:client_id>/edit/",
        pages.ApplicationUpdateView.as_view(),
        name="app_update",
    ),
    path(
        "developers/apps/<str:client_id>/rotate-secret/",
        pages.ApplicationSecretRotateView.as_view(),
        name="app_rotate_secret",
    ),
    path(
        "developers/apps/<str:client_id>/delete/",
        pages.ApplicationDeleteView.as_view(),
        name="app_delete",
    ),
    path(
        "developers/apps/<str:client_id>/members/",
        pages.ApplicationMembersView.as_view(),
        name="app_members",
    ),
    path(
        "developers/invitations/<str:token>/",
        pages.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    path("accounts/apps/", pages.ConnectedAppListView.as_view(), name="connected_apps"),
    path(
        "accounts/apps/<str:client_id>/revoke/",
        pages.ConnectedAppRevokeView.as_view(),
        name="connected_app_revoke",
    ),
]
