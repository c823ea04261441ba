"""The developer "members" form of a restricted application must not tell whether a username or
email address has an account (issue 16, item 12; ASVS 5.0 V6.3.8): adding an unknown account
answers exactly like adding a real one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory
from tests.sso.conftest import register

pytestmark = pytest.mark.django_db


def _add(client: Client, client_id: str, login: str):
    return client.post(reverse("sso:app_members", args=[client_id]), {"login": login})


def _answer(client: Client, response) -> tuple[int, str, list[str]]:
    """What the owner sees: status, where they are sent, the messages on the page they land on."""
    location = response.get("Location", "")
    landed = client.get(location) if location else response
    return response.status_code, location, [str(m) for m in landed.context["messages"]]


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.mark.parametrize("by", ["username", "email"])
def test_adding_an_unknown_account_answers_like_a_real_one(owner, owner_client, by):
    app = register(owner, restricted=True).app
    member = UserFactory(email="hidden.mailbox@example.org")
    known = _answer(owner_client, _add(owner_client, app.client_id, getattr(member, by)))
    unknown_login = "nobody-here" if by == "username" else "nobody-here@example.com"
    unknown = _answer(owner_client, _add(owner_client, app.client_id, unknown_login))

    # Neither is a member yet: the holder of an account must accept the invitation first.
    assert not app.memberships.exists()
    assert set(app.invitations.values_list("login", flat=True)) == {
        getattr(member, by),
        unknown_login,
    }
    # Same status and redirect; the message repeats what was typed, never the account's
    # username, so an email address does not reveal the username behind it either.
    assert known[:2] == unknown[:2] == (302, reverse("sso:app_members", args=[app.client_id]))
    assert known[2] == [_neutral(getattr(member, by))]
    assert unknown[2] == [_neutral(unknown_login)]
    if by == "email":
        assert member.username not in " ".join(known[2])


def test_the_members_page_after_an_unknown_login_is_the_page_before(owner, owner_client):
    app = register(owner, restricted=True).app
    before = owner_client.get(reverse("sso:app_members", args=[app.client_id]))
    response = _add(owner_client, app.client_id, "nobody-here")
    after = owner_client.get(response["Location"])
    assert after.status_code == before.status_code == 200
    assert "No account" not in after.content.decode()
    assert not app.memberships.exists()
    # The page changed only by the invitation row naming what was typed.
    assert "nobody-here" in after.content.decode()


def _neutral(login: str) -> str:
    return (
        f"{login} is invited. If an account exists for it, its holder can accept "
        "and then appears as a member."
    )
