"""Adding a member to a restricted application is an invitation the account's holder accepts
(issue 16, item 12; ASVS 5.0 V6.3.8): the owner learns nothing about an account, not even
whether it exists or the username behind an email address, until its holder agrees."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from sso.models import ApplicationInvitation
from tests.factories import UserFactory
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db

UNKNOWN_EMAIL = "nobody-here@example.com"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _invite(owner_client: Client, client_id: str, login: str):
    return owner_client.post(reverse("sso:app_members", args=[client_id]), {"login": login})


def _invite_link(to: str) -> str:
    message = next(m for m in mail.outbox if to in m.to)
    return re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)


def _path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def _shape(row: str, login: str) -> str:
    """A row with what was typed and the invitation's own random id taken out."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "ID", row.replace(login, "X"))


@pytest.fixture
def invited(owner):
    """An owner's restricted app, an account invited by its email, and an unknown email."""
    rp = register(owner, restricted=True)
    member = UserFactory(email="hidden.mailbox@example.org", username="secret-handle")
    owner_client = _client(owner)
    mail.outbox.clear()
    _invite(owner_client, rp.client_id, member.email)
    _invite(owner_client, rp.client_id, UNKNOWN_EMAIL)
    return rp, member, owner_client


def test_the_members_page_shows_known_and_unknown_invitations_alike(invited):
    rp, member, owner_client = invited
    app = rp.app
    page = owner_client.get(reverse("sso:app_members", args=[app.client_id])).content.decode()
    assert member.username not in page
    assert member.email in page
    assert UNKNOWN_EMAIL in page
    # Both rows look the same: the typed login and a withdraw button, nothing else.
    known_row = re.search(rf"<tr>[^\n]*{re.escape(member.email)}[^\n]*</tr>", page).group(0)
    unknown_row = re.search(rf"<tr>[^\n]*{re.escape(UNKNOWN_EMAIL)}[^\n]*</tr>", page).group(0)
    assert _shape(known_row, member.email) == _shape(unknown_row, UNKNOWN_EMAIL)
    assert not app.memberships.exists()
    # Only the existing account is mailed; the unknown address gets nothing.
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_the_members_api_lists_known_and_unknown_invitations_alike(owner):
    app = register(owner, restricted=True).app
    member = UserFactory(email="hidden.mailbox@example.org", username="secret-handle")
    api = APIClient()
    api.force_authenticate(owner)
    url = reverse("api:sso:application_members", args=[app.client_id])
    known = api.post(url, {"login": member.email}, format="json")
    unknown = api.post(url, {"login": UNKNOWN_EMAIL}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == {**unknown.json(), "login": member.email}
    body = api.get(url).json()
    assert member.username not in str(body)
    assert {i["login"] for i in body["invitations"]} == {member.email, UNKNOWN_EMAIL}
    assert body["results"] == []
    for invitation in body["invitations"]:
        withdraw = reverse("api:sso:application_invitation", args=[app.client_id, invitation["id"]])
        assert api.delete(withdraw).status_code == 204
    assert api.get(url).json()["invitations"] == []
    assert not ApplicationInvitation.objects.filter(application=app).exists()


def test_the_invited_account_accepts_and_signs_in(invited):
    rp, member, _ = invited
    app = rp.app
    link = _path(_invite_link(member.email))
    member_client = _client(member)
    page = member_client.get(link)
    assert page.status_code == 200
    assert app.name in page.content.decode()
    assert app.user.username in page.content.decode()
    assert not app.memberships.exists()  # a GET accepts nothing
    assert member_client.post(link).status_code == 302
    assert app.memberships.filter(user=member).exists()
    assert not ApplicationInvitation.objects.filter(application=app, login=member.email).exists()
    # Now a member: the restricted app's sign-in (/o/authorize) lets them through.
    assert sign_in(member_client, rp, member)["access_token"]
    # Single use.
    assert member_client.post(link).status_code == 404


def test_another_account_cannot_use_the_link(invited):
    app, member = invited[0].app, invited[1]
    link = _path(_invite_link(member.email))
    intruder = _client(UserFactory())
    assert intruder.get(link).status_code == 404
    assert intruder.post(link).status_code == 404
    assert not app.memberships.exists()


def test_anonymous_is_sent_to_sign_in_with_next(invited):
    _, member, _ = invited
    link = _path(_invite_link(member.email))
    response = Client().get(link)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert "next=" in response["Location"]


def test_withdrawn_invitation_link_is_dead(invited):
    rp, member, owner_client = invited
    app = rp.app
    link = _path(_invite_link(member.email))
    for login in (member.email, UNKNOWN_EMAIL):
        invitation = ApplicationInvitation.objects.get(application=app, login=login)
        response = owner_client.post(
            reverse("sso:app_members", args=[app.client_id]),
            {"withdraw": str(invitation.public_id)},
        )
        assert response.status_code == 302
    assert not ApplicationInvitation.objects.filter(application=app).exists()
    assert _client(member).post(link).status_code == 404
    assert not app.memberships.exists()


def test_expired_invitation_link_is_dead(invited):
    app, member = invited[0].app, invited[1]
    link = _path(_invite_link(member.email))
    ApplicationInvitation.objects.filter(application=app).update(
        expires_at=ApplicationInvitation.objects.get(login=member.email).created_at
        - timedelta(seconds=1)
    )
    assert _client(member).post(link).status_code == 404
    assert not app.memberships.exists()


def test_the_admin_lists_invitations_without_their_secret(invited, admin_user):
    rp, member, _ = invited
    invitation = ApplicationInvitation.objects.get(application=rp.app, login=member.email)
    admin = _client(admin_user)
    listing = admin.get(reverse("admin:sso_applicationinvitation_changelist"))
    assert UNKNOWN_EMAIL in listing.content.decode()
    page = admin.get(reverse("admin:sso_applicationinvitation_change", args=[invitation.pk]))
    assert page.status_code == 200
    assert invitation.token_hash not in page.content.decode()


@pytest.mark.parametrize(
    "account",
    [{"is_active": False}, {"unverified": True}, {"is_service_account": True}],
    ids=["inactive", "unverified", "service-account"],
)
def test_no_mail_to_an_account_that_cannot_prove_its_address(owner, account):
    """A deactivated account, an address never proven, or a service account (no mailbox) is
    treated like no account: the row is stored, nothing is sent and no link exists."""
    rp = register(owner, restricted=True)
    target = UserFactory(**account)
    mail.outbox.clear()
    _invite(_client(owner), rp.client_id, target.email)
    invitation = ApplicationInvitation.objects.get(application=rp.app)
    assert invitation.login == target.email.lower()
    assert invitation.token_hash is None
    assert mail.outbox == []
