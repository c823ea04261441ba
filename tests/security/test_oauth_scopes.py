"""OAuth access tokens on the REST API (issue 16 item 2, ASVS V8.2.1, V8.3.1, V10.3.2, V10.4.11).

Every API view declares the scopes it accepts; administration needs the admin scopes, which only
an application an administrator trusted may hold; a token acts with its scope intersected with
the permissions of the user (or the application's service account) behind it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from authz import services as authz_services
from authz.models import Role
from sso import services
from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.sso.conftest import Registered, authorize, basic, pkce_pair, query, register, sign_in

pytestmark = pytest.mark.django_db

ADMIN_SCOPES = "openid read write admin.read admin.write"


def _user_manager() -> User:
    manager = UserFactory()
    authz_services.role_assign(
        user=manager, role=Role.objects.get(name="user-manager"), granted_by=None
    )
    return manager


def _trusted(owner: User, **kwargs) -> Registered:
    """An application an administrator marked as trusted, allowed the admin scopes."""
    registered = register(owner, **kwargs)
    services.application_trust_set(application=registered.app, is_trusted=True)
    services.application_update(
        application=registered.app,
        allowed_scopes=f"{registered.app.allowed_scopes} admin.read admin.write",
    )
    return registered


def _client_credentials(app: Registered, scope: str):
    return Client().post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic(app.client_id, app.secret),
    )


# -- the grant: admin scopes only for trusted applications ---------------------------------


def test_self_registered_app_cannot_register_admin_scopes(user, signed_in_api):
    api = signed_in_api(user)
    response = api.post(
        reverse("api:sso:applications"),
        {
            "name": "Greedy",
            "client_type": "confidential",
            "redirect_uris": ["https://rp.example.com/callback"],
            "allowed_scopes": ["openid", "write", "admin.write"],
        },
        format="json",
    )
    assert_problem(response, 400, "validation_error")
    assert response.json()["errors"][0]["field"] == "allowed_scopes"


def test_self_registered_app_cannot_set_itself_trusted(user, signed_in_api):
    registered = register(user)
    response = signed_in_api(user).patch(
        reverse("api:sso:application", args=[registered.client_id]),
        {"is_trusted": True},
        format="json",
    )
    assert response.status_code == 400
    registered.app.refresh_from_db()
    assert registered.app.is_trusted is False


def test_untrusted_app_is_refused_admin_scopes_at_authorize(client, owner):
    registered = register(owner)
    # Even if the scope slipped into its registration (e.g. trust withdrawn later).
    type(registered.app).objects.filter(pk=registered.app.pk).update(
        allowed_scopes=f"{registered.app.allowed_scopes} admin.read admin.write"
    )
    client.force_login(UserFactory(superuser=True))
    _, challenge = pkce_pair()
    response = authorize(client, registered, challenge=challenge, scope="openid write admin.write")
    assert response.status_code == 302
    assert query(response)["error"] == "invalid_scope"


def test_untrusted_service_is_refused_admin_scopes_at_token(owner):
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    type(service.app).objects.filter(pk=service.app.pk).update(allowed_scopes="read admin.read")
    response = _client_credentials(service, "admin.read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_trusted_app_is_granted_admin_scopes(client, owner, bearer_client):
    manager = _user_manager()
    tokens = sign_in(client, _trusted(owner), manager, scope=ADMIN_SCOPES)
    assert set(tokens["scope"].split()) >= {"admin.read", "admin.write"}
    listed = bearer_client(tokens["access_token"]).get(reverse("api:accounts:users"))
    assert listed.status_code == 200, listed.content


# -- the resource: write is not administration --------------------------------------------


def test_write_token_cannot_list_or_patch_users(client, rp, bearer_client):
    admin = UserFactory(superuser=True)
    victim = UserFactory()
    api = bearer_client(sign_in(client, rp, admin, scope="openid read write")["access_token"])
    assert_problem(api.get(reverse("api:accounts:users")), 403, "insufficient_scope")
    patched = api.patch(
        reverse("api:accounts:user", args=[victim.public_id]),
        {"email": "taken@attacker.example"},
        format="json",
    )
    assert_problem(patched, 403, "insufficient_scope")
    victim.refresh_from_db()
    assert victim.email != "taken@attacker.example"


@pytest.mark.parametrize(
    ("method", "url_name"),
    [
        ("get", "api:authz:roles"),
        ("get", "api:authz:permissions"),
        ("get", "api:accounts:email_domain_rules"),
        ("get", "api:sso:applications"),
    ],
)
def test_write_token_reaches_no_administration_endpoint(
    client, rp, method, url_name, bearer_client
):
    admin = UserFactory(superuser=True)
    api = bearer_client(sign_in(client, rp, admin, scope="openid read write")["access_token"])
    assert_problem(getattr(api, method)(reverse(url_name)), 403, "insufficient_scope")


def test_admin_scope_does_not_give_a_user_permissions_they_lack(client, owner, user, bearer_client):
    """Scope intersected with the user's permissions: the authz check still runs."""
    tokens = sign_in(client, _trusted(owner), user, scope=ADMIN_SCOPES)
    assert_problem(
        bearer_client(tokens["access_token"]).get(reverse("api:accounts:users")),
        403,
        "permission_denied",
    )


def test_admin_scope_stops_working_when_trust_is_withdrawn(client, owner, bearer_client):
    trusted = _trusted(owner)
    tokens = sign_in(client, trusted, _user_manager(), scope=ADMIN_SCOPES)
    services.application_trust_set(application=trusted.app, is_trusted=False)
    response = bearer_client(tokens["access_token"]).get(reverse("api:accounts:users"))
    assert response.status_code == 401


# -- client credentials: the application's own service account ----------------------------


def _service_with_account(owner: User) -> tuple[Registered, User]:
    service = _trusted(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    account = services.application_service_account_create(application=service.app)
    return service, account


def test_client_credentials_token_acts_with_the_service_accounts_roles(owner, bearer_client):
    service, account = _service_with_account(owner)
    authz_services.role_assign(
        user=account, role=Role.objects.get(name="user-manager"), granted_by=None
    )
    token = _client_credentials(service, "admin.read")
    assert token.status_code == 200, token.content
    response = bearer_client(token.json()["access_token"]).get(reverse("api:accounts:users"))
    assert response.status_code == 200, response.content
    listed = {row["username"] for row in response.json()["results"]}
    assert account.username in listed


def test_client_credentials_token_without_a_role_is_denied(owner, bearer_client):
    service, _ = _service_with_account(owner)
    token = _client_credentials(service, "admin.read").json()["access_token"]
    assert_problem(
        bearer_client(token).get(reverse("api:accounts:users")), 403, "permission_denied"
    )


def test_service_account_cannot_sign_in(client, owner):
    _, account = _service_with_account(owner)
    assert account.is_service_account
    assert not account.has_usable_password()
    # Even with a password set behind the services' back, no channel signs it in.
    account.set_password("a long enough password 123")
    account.save(update_fields=["password"])
    response = APIClient().post(
        reverse("api:accounts:login"),
        {"login": account.username, "password": "a long enough password 123"},
        format="json",
    )
    assert_problem(response, 401, "invalid_credentials")
    client.force_login(account)  # a browser session made by other means is not honoured
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_service_account_needs_a_trusted_confidential_app(owner):
    from sso.errors import NotTrusted

    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    with pytest.raises(NotTrusted):
        services.application_service_account_create(application=service.app)


# -- the account itself: no scope changes email, password or deletes ----------------------


@pytest.mark.parametrize(
    ("method", "url_name", "body"),
    [
        ("patch", "api:accounts:me", {"email": "new@attacker.example"}),
        (
            "post",
            "api:accounts:me_password",
            {"current_password": "x", "new_password": "y", "new_password_confirm": "y"},
        ),
        ("delete", "api:accounts:me", {"password": "x"}),
    ],
)
def test_no_oauth_token_changes_email_password_or_deletes(
    client, rp, method, url_name, body, bearer_client
):
    user = UserFactory()
    tokens = sign_in(client, rp, user, scope="openid read write")
    response = getattr(bearer_client(tokens["access_token"]), method)(
        reverse(url_name), body, format="json"
    )
    assert_problem(response, 403, "insufficient_scope")
    user.refresh_from_db()
    assert user.email != "new@attacker.example"


def test_read_token_still_reads_the_account(client, rp, user, bearer_client):
    tokens = sign_in(client, rp, user, scope="openid read")
    response = bearer_client(tokens["access_token"]).get(reverse("api:accounts:me"))
    assert response.status_code == 200
    assert response.json()["username"] == user.username


# -- every API view declares its scopes ----------------------------------------------------


def _url_patterns(patterns, prefix: str = ""):
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def _api_views() -> list[tuple[str, type]]:
    from django.urls import get_resolver
    from rest_framework.views import APIView

    return [
        (route, callback.cls)
        for route, callback in _url_patterns(get_resolver().url_patterns)
        if route.startswith("api/") and issubclass(getattr(callback, "cls", object), APIView)
    ]


def test_every_api_view_declares_its_oauth_scopes():
    from identity.api.scopes import OAuthScopes
    from sso.authentication import OAuth2Authentication

    views = _api_views()
    assert len(views) > 30  # the walk found the API
    undeclared = [
        f"{route} {view.__name__}"
        for route, view in views
        if not isinstance(getattr(view, "oauth_scopes", None), OAuthScopes)
        and any(issubclass(auth, OAuth2Authentication) for auth in view().authentication_classes)
    ]
    assert undeclared == []


def test_administration_views_accept_only_admin_scopes():
    from identity.api.scopes import ADMIN_SCOPES

    admin_routes = ("api/v1/users/", "api/v1/roles/", "api/v1/permissions/", "api/v1/email-")
    admin_routes += ("api/v1/applications/",)
    checked = 0
    for route, view in _api_views():
        if not route.startswith(admin_routes):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            required = view.oauth_scopes.required(method)
            assert required is None or required <= ADMIN_SCOPES, (route, method, required)
            checked += 1
    assert checked > 20


def test_a_view_without_a_declaration_refuses_oauth_tokens(client, rp, user):
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class Undeclared(APIView):
        def get(self, request):
            return Response({"ok": True})

    token = sign_in(client, rp, user, scope="openid read write")["access_token"]
    request = APIRequestFactory().get("/api/v1/undeclared/", HTTP_AUTHORIZATION=f"Bearer {token}")
    response = Undeclared.as_view()(request)
    assert response.status_code == 403
    assert response.data["code"] == "insufficient_scope"


# -- who sets trust and admin scopes --------------------------------------------------------


def test_developer_page_offers_no_admin_scope_and_no_trust(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("sso:app_create"),
        {
            "name": "Page app",
            "kind": "confidential",
            "redirect_uris": "https://shop.example.com/cb",
            "allowed_scopes": ["openid", "write", "admin.write"],
            "is_trusted": "on",
        },
    )
    assert response.status_code == 200  # the form refuses the unknown choice
    assert "admin.write" in str(response.context["form"].errors["allowed_scopes"])
    assert b"admin.read" not in client.get(reverse("sso:app_create")).content


def test_owner_edit_keeps_admin_scopes_but_cannot_add_them(owner, signed_in_api):
    trusted = _trusted(owner)
    api = signed_in_api(owner)
    url = reverse("api:sso:application", args=[trusted.client_id])
    kept = api.patch(url, {"allowed_scopes": ["openid", "read"]}, format="json")
    assert kept.status_code == 200, kept.content
    assert set(kept.json()["allowed_scopes"]) == {"openid", "read", "admin.read", "admin.write"}
    services.application_trust_set(
        application=trusted.app, is_trusted=True, admin_scopes=["admin.read"]
    )
    grown = api.patch(url, {"allowed_scopes": ["openid", "admin.write"]}, format="json")
    assert_problem(grown, 400, "validation_error")


def _admin_change(admin_client, app, **changes):
    page = admin_client.get(reverse("admin:sso_application_change", args=[app.pk]))
    form = page.context["adminform"].form
    data = {
        name: form.initial.get(name) or ""
        for name in form.fields
        if name not in {"is_first_party", "restricted", "is_trusted", "allowed_scopes"}
    }
    data["allowed_scopes"] = app.allowed_scopes
    data.update({"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    data.update(changes)
    return admin_client.post(reverse("admin:sso_application_change", args=[app.pk]), data)


def test_admin_trusts_an_app_and_withdrawing_trust_ends_its_admin_tokens(
    admin_client, client, owner, bearer_client
):
    registered = register(owner)
    response = _admin_change(
        admin_client,
        registered.app,
        is_trusted="on",
        allowed_scopes=f"{registered.app.allowed_scopes} admin.read",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    registered.app.refresh_from_db()
    assert registered.app.is_trusted
    tokens = sign_in(client, registered, _user_manager(), scope="openid admin.read")
    api = bearer_client(tokens["access_token"])
    assert api.get(reverse("api:accounts:users")).status_code == 200

    assert _admin_change(admin_client, registered.app).status_code == 302  # trust unticked
    registered.app.refresh_from_db()
    assert not registered.app.is_trusted
    assert "admin.read" not in registered.app.scope_list
    assert api.get(reverse("api:accounts:users")).status_code == 401


def test_admin_creates_the_service_account(admin_client, owner):
    service = _trusted(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    response = admin_client.post(
        reverse("admin:sso_application_changelist"),
        {"action": "service_account_create", "_selected_action": [service.app.pk]},
    )
    assert response.status_code == 302
    service.app.refresh_from_db()
    account = service.app.service_account
    assert account is not None
    assert account.is_service_account
    listed = admin_client.get(reverse("admin:accounts_user_changelist"), {"is_service_account": 1})
    assert account.username.encode() in listed.content


def test_service_account_goes_with_its_application(owner):
    service, account = _service_with_account(owner)
    services.application_delete(application=service.app)
    assert not User.objects.filter(pk=account.pk).exists()


# -- asking about someone else is administration --------------------------------------------


def test_check_api_about_another_user_needs_admin_read(client, rp, bearer_client):
    checker = UserFactory()
    role = Role.objects.get(name="admin")
    authz_services.role_assign(user=checker, role=role, granted_by=None)
    other = UserFactory()
    api = bearer_client(sign_in(client, rp, checker, scope="openid read")["access_token"])
    url = reverse("api:authz:check")
    assert api.post(url, {"permission": "users.read"}, format="json").status_code == 200
    about_other = api.post(
        url, {"permission": "users.read", "user": str(other.public_id)}, format="json"
    )
    assert_problem(about_other, 403, "insufficient_scope")


def test_schema_lists_the_scopes_of_each_operation(client):
    import yaml

    schema = yaml.safe_load(client.get(reverse("api_schema")).content)
    users = schema["paths"]["/api/v1/users/"]
    assert {"oauth2": ["admin.read"]} in users["get"]["security"]
    assert {"oauth2": ["admin.write"]} in users["post"]["security"]
    assert not any(
        "oauth2" in item for item in schema["paths"]["/api/v1/me/password/"]["post"]["security"]
    )
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert "admin.write" in flows["clientCredentials"]["scopes"]
