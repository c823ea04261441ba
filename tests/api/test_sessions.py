"""Sessions and sign-in history over the API, and axes on every password entry point."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import LoginEvent, UserSession
from authz import services as authz_services
from tests.factories import DEFAULT_PASSWORD, LoginEventFactory, UserSessionFactory

pytestmark = pytest.mark.django_db


def grant(user, name: str, *codes: str) -> None:
    role = authz_services.role_create(name=name, permissions=codes)
    authz_services.role_assign(user=user, role=role, granted_by=None)


def url(name: str, *args: object) -> str:
    return reverse(f"api:accounts:{name}", args=args)


def test_me_sessions_lists_every_channel_and_marks_the_caller(
    user, client, api_tokens, bearer_client
):
    tokens = api_tokens(user)
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    UserSessionFactory(user=user, revoked=True)
    UserSessionFactory()  # someone else's
    body = bearer_client(tokens["access_token"]).get(url("me_sessions")).json()
    assert body["count"] == 2
    channels = sorted(s["channel"] for s in body["results"])
    assert channels == ["api", "browser"]
    current = [s for s in body["results"] if s["current"]]
    assert [s["channel"] for s in current] == ["api"]


def test_revoking_a_session_kills_its_tokens_on_the_next_request(
    api, user, api_tokens, bearer_client
):
    mine, other = api_tokens(user), api_tokens(user)
    other_sid = bearer_client(other["access_token"]).get(url("token")).json()["sid"]
    response = bearer_client(mine["access_token"]).delete(url("me_session", other_sid))
    assert response.status_code == 204
    assert bearer_client(other["access_token"]).get(url("me")).status_code == 401
    refresh = api.post(url("refresh"), {"refresh_token": other["refresh_token"]}, format="json")
    assert refresh.status_code == 401
    assert bearer_client(mine["access_token"]).get(url("me")).status_code == 200


def test_revoking_someone_elses_session_is_not_found(user, signed_in_api):
    victim = UserSessionFactory()
    response = signed_in_api(user).delete(url("me_session", victim.pk))
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    victim.refresh_from_db()
    assert victim.revoked_at is None


def test_revoke_others_keeps_only_the_caller(user, api_tokens, bearer_client):
    mine = api_tokens(user)
    others = [api_tokens(user), api_tokens(user)]
    response = bearer_client(mine["access_token"]).post(url("me_sessions_revoke_others"))
    assert response.json() == {"revoked": 2}
    assert all(bearer_client(t["access_token"]).get(url("me")).status_code == 401 for t in others)
    assert bearer_client(mine["access_token"]).get(url("me")).status_code == 200


def test_me_login_history_is_own_newest_first_without_identifier(user, signed_in_api):
    LoginEventFactory(user=user, failed=True)
    LoginEventFactory()  # someone else's
    body = signed_in_api(user).get(url("me_login_history")).json()
    assert [e["outcome"] for e in body["results"]] == ["success", "bad_credentials"]
    assert "identifier" not in body["results"][0]


@pytest.mark.parametrize("count", [2, 50])
def test_history_and_sessions_query_counts_do_not_grow(
    user, count, django_assert_max_num_queries, signed_in_api
):
    client = signed_in_api(user)
    LoginEventFactory.create_batch(count, user=user)
    UserSessionFactory.create_batch(count, user=user)
    with django_assert_max_num_queries(3):
        assert client.get(url("me_login_history")).status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get(url("me_sessions")).status_code == 200


def test_revoking_an_api_sign_in_costs_five_queries(
    user, django_assert_num_queries, api_tokens, bearer_client, signed_in_api
):
    """The caller's user with its sign-in's state, the session to end, the live rows locked,
    their update, and the session.revoked event."""
    client, other = signed_in_api(user), api_tokens(user)
    other_sid = bearer_client(other["access_token"]).get(url("token")).json()["sid"]
    with django_assert_num_queries(5):
        assert client.delete(url("me_session", other_sid)).status_code == 204
    assert bearer_client(other["access_token"]).get(url("me")).status_code == 401


def test_admin_sees_and_revokes_another_users_sessions(
    user, user_factory, api_tokens, bearer_client, signed_in_api
):
    target = user_factory()
    target_tokens = api_tokens(target)
    admin = user_factory()
    grant(admin, "session-admin", "users.read", "sessions.revoke")
    client = signed_in_api(admin)
    listed = client.get(url("user_sessions", target.public_id)).json()
    assert listed["count"] == 1
    sid = listed["results"][0]["id"]
    assert client.delete(url("user_session", target.public_id, sid)).status_code == 204
    assert bearer_client(target_tokens["access_token"]).get(url("me")).status_code == 401
    history = client.get(url("user_login_history", target.public_id)).json()
    assert history["results"][0]["identifier"] == target.username


def test_admin_session_endpoints_need_permissions(user, user_factory, signed_in_api):
    target = user_factory()
    session = UserSessionFactory(user=target)
    client = signed_in_api(user)
    for response in (
        client.get(url("user_sessions", target.public_id)),
        client.get(url("user_login_history", target.public_id)),
        client.delete(url("user_session", target.public_id, session.pk)),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    reader = user_factory()
    grant(reader, "reader", "users.read")
    denied = signed_in_api(reader).delete(url("user_session", target.public_id, session.pk))
    assert denied.status_code == 403
    assert "sessions.revoke" in denied.json()["detail"]
    session.refresh_from_db()
    assert session.revoked_at is None


@pytest.mark.parametrize("entry", ["password_change", "delete"])
def test_wrong_current_password_counts_towards_lockout(api, user, entry, signed_in_api):
    client = signed_in_api(user)
    for _ in range(4):
        response = _password_entry(client, entry, "wrong password")
        assert response.status_code == 400
        assert response.json()["code"] == "incorrect_password"
    locked = _password_entry(client, entry, "wrong password")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) > 0
    # The account is now locked for this IP on the sign-in endpoint too.
    refused = api.post(
        url("login"), {"login": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert refused.status_code == 429


def _password_entry(client: APIClient, entry: str, password: str):
    if entry == "delete":
        return client.delete(url("me"), {"password": password}, format="json")
    body = {
        "current_password": password,
        "new_password": "n3w passphrase ok",
        "new_password_confirm": "n3w passphrase ok",
    }
    return client.post(url("me_password"), body, format="json")


def test_spoofed_forwarded_for_does_not_escape_lockout(api, user, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    for n in range(5):
        api.post(
            url("login"),
            {"login": user.username, "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    response = api.post(
        url("login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert response.status_code == 429
    assert set(LoginEvent.objects.values_list("ip", flat=True)) == {"127.0.0.1"}


def test_trusted_proxy_forwarded_for_is_the_client(api, user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    api.post(
        url("login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert LoginEvent.objects.get().ip == "203.0.113.99"
    assert UserSession.objects.get().ip == "203.0.113.99"
