"""A stolen session must not become a permanent takeover through the email address (issue 16,
item 4): changing the address needs a recent proof (the current password, a factor's code, or a
sign-in proven within REAUTHENTICATION_SECONDS), on the page and the API; a password
change or reset and every new change request void the outstanding verification links; a link
verifies only the address it was sent to, and only while that address is the pending one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.errors import LinkInvalid
from accounts.models import OneTimeToken, User
from accounts.services.secrets import secret_issue
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import sign_ins_make_stale
from tests.security.conftest import fresh_ip

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 7"
VERIFY = OneTimeToken.Purpose.VERIFY_EMAIL


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def _link_to(mailoutbox, address: str) -> str:
    """The token of the newest verification link mailed to ``address``."""
    for message in reversed(mailoutbox):
        match = re.search(r"/accounts/verify-email/([\w-]+)/", message.body)
        if message.to == [address] and match:
            return match.group(1)
    raise AssertionError(f"no verification link sent to {address}")


def _verify(token: str):
    return APIClient().post(url("verify_email"), {"token": token}, format="json")


def _request_change(client: APIClient, address: str, password: str | None = DEFAULT_PASSWORD):
    body = {"email": address}
    if password is not None:
        body["current_password"] = password
    return client.patch(url("me"), body, format="json")


def _page_change(user: User, address: str) -> None:
    """The change through the page, signed in as ``user``, with the right password."""
    client = Client()
    client.force_login(user)
    client.get(reverse("home"))  # the sign-in is recorded (UserSessionMiddleware): just proven
    response = client.post(reverse("accounts:email_change"), {"new_email": address})
    assert response.status_code == 302, response.content


def _email_of(user: User) -> str:
    user.refresh_from_db()
    return user.email


# -- the current password is required --------------------------------------------------------


def test_api_email_change_without_current_password_is_refused(user, mailoutbox, signed_in_api):
    client = signed_in_api(user)
    sign_ins_make_stale(user)  # a stolen token, minutes after its sign-in
    response = _request_change(client, "thief@example.com", password=None)
    assert_problem(response, 403, "reauthentication_required")
    assert not OneTimeToken.objects.filter(user=user, email="thief@example.com").exists()
    assert all(m.to != ["thief@example.com"] for m in mailoutbox)


def test_api_email_change_with_wrong_current_password_is_refused(user, mailoutbox, signed_in_api):
    body = assert_problem(
        _request_change(signed_in_api(user), "thief@example.com", password="not my password"),
        400,
        "incorrect_password",
    )
    assert body["errors"][0]["field"] == "current_password"
    assert not OneTimeToken.objects.filter(user=user, email="thief@example.com").exists()
    assert all(m.to != ["thief@example.com"] for m in mailoutbox)


def test_api_email_change_with_current_password_sends_the_link(user, mailoutbox, signed_in_api):
    response = _request_change(signed_in_api(user), "mine@example.com")
    assert response.status_code == 200, response.content
    assert response.json()["pending_email"] == "mine@example.com"
    assert _link_to(mailoutbox, "mine@example.com")


def test_api_patch_without_an_email_change_needs_no_password(user, signed_in_api):
    client = signed_in_api(user)
    same = client.patch(url("me"), {"email": user.email.upper()}, format="json")
    assert same.status_code == 200, same.content
    renamed = client.patch(url("me"), {"username": "renamed"}, format="json")
    assert renamed.status_code == 200, renamed.content


def test_api_wrong_current_passwords_count_towards_lockout(user, signed_in_api):
    client = signed_in_api(user)
    client.defaults["REMOTE_ADDR"] = ip = fresh_ip()
    for _ in range(4):
        response = _request_change(client, "thief@example.com", password="guess")
        assert_problem(response, 400, "incorrect_password")
    locked = _request_change(client, "thief@example.com", password="guess")
    assert_problem(locked, 429, "locked_out")
    # The right password from that address is refused now, as on the sign-in endpoint.
    assert_problem(_request_change(client, "thief@example.com"), 429, "locked_out")
    login = APIClient(REMOTE_ADDR=ip).post(
        url("login"), {"login": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert login.status_code == 429


def test_page_email_change_asks_for_a_recent_proof(client: Client, user, mailoutbox):
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    sign_ins_make_stale(user)  # a stolen session, minutes after its sign-in
    stale = client.post(reverse("accounts:email_change"), {"new_email": "thief@example.com"})
    assert stale.url.startswith(reverse("accounts:reauthenticate") + "?next=")
    wrong = client.post(stale.url, {"password": "not my password"})
    assert wrong.context["form"].errors["password"] == ["Your current password is not correct."]
    assert not OneTimeToken.objects.filter(user=user, email="thief@example.com").exists()

    proven = client.post(stale.url, {"password": DEFAULT_PASSWORD})
    assert proven.url == reverse("accounts:email_change")
    right = client.post(reverse("accounts:email_change"), {"new_email": "mine@example.com"})
    assert right.status_code == 302
    assert _link_to(mailoutbox, "mine@example.com")


# -- outstanding links die --------------------------------------------------------------------


def test_password_reset_voids_a_pending_email_change(user, mailoutbox):
    _page_change(user, "thief@example.com")
    stolen_link = _link_to(mailoutbox, "thief@example.com")
    # The owner notices and resets the password by the emailed code.
    APIClient().post(url("password_reset"), {"login": user.username}, format="json")
    code = re.search(r"^([2-9A-Z]{8,})$", mailoutbox[-1].body, re.MULTILINE).group(1)
    confirm = APIClient().post(
        url("password_reset_confirm"),
        {"login": user.username, "code": code, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert confirm.status_code == 204, confirm.content

    assert_problem(_verify(stolen_link), 400, "invalid_token")
    assert _email_of(user) != "thief@example.com"


def test_password_change_voids_a_pending_email_change(user, mailoutbox, signed_in_api):
    _page_change(user, "thief@example.com")
    stolen_link = _link_to(mailoutbox, "thief@example.com")
    changed = signed_in_api(user).post(
        url("me_password"),
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
        format="json",
    )
    assert changed.status_code == 204, changed.content

    assert_problem(_verify(stolen_link), 400, "invalid_token")
    assert _email_of(user) != "thief@example.com"


def test_a_new_email_request_voids_the_previous_link(user, mailoutbox):
    _page_change(user, "first@example.com")
    first = _link_to(mailoutbox, "first@example.com")
    _page_change(user, "second@example.com")

    assert_problem(_verify(first), 400, "invalid_token")
    assert _email_of(user) != "first@example.com"
    assert _verify(_link_to(mailoutbox, "second@example.com")).status_code == 200
    assert _email_of(user) == "second@example.com"


def test_an_old_link_for_a_previous_address_cannot_revert_a_completed_change(
    user_factory, mailoutbox
):
    user = user_factory(email="old@example.com", unverified=True)
    services.email_verification_send(user=user)  # the sign-up link, never opened
    old_link = _link_to(mailoutbox, "old@example.com")
    _page_change(user, "new@example.com")
    assert _verify(_link_to(mailoutbox, "new@example.com")).status_code == 200
    assert _email_of(user) == "new@example.com"

    assert_problem(_verify(old_link), 400, "invalid_token")
    assert _email_of(user) == "new@example.com"


def test_a_link_verifies_only_while_its_address_is_the_pending_one(user):
    # Two live change links (as a race or an older release could leave): only the newest
    # request is pending; the older one names an address the user has moved away from.
    older, _ = secret_issue(
        user=user, purpose=VERIFY, ttl=timedelta(hours=1), email="older@example.com"
    )
    newer, _ = secret_issue(
        user=user, purpose=VERIFY, ttl=timedelta(hours=1), email="newer@example.com"
    )
    with pytest.raises(LinkInvalid):
        services.email_verify(token=older)
    assert _email_of(user) != "older@example.com"
    assert services.email_verify(token=newer).email == "newer@example.com"
