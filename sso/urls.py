"""OAuth 2.0 / OpenID Connect endpoints under /o/ (namespace oauth2_provider, as DOT expects)."""

from __future__ import annotations

from django.urls import path

from sso.views import oauth

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", oauth.AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth.TokenView.as_view(), name="token"),
    path("revoke/", oauth.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth.IntrospectView.as_view(), name="introspect"),
    path("userinfo/", oauth.UserInfoView.as_view(), name="user-info"),
    path("end-session/", oauth.LogoutView.as_view(), name="rp-initiated-logout"),
]
