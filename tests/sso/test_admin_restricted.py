"""The application admin saves through sso.services: restricting an application there ends the
sign-ins of non-members as the owner's change does; members come and go through services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from sso import services
from sso.models import Application, ApplicationInvitation, ApplicationMember, Consent
from sso.selectors import application_cache_put, application_cached
from tests.admin_forms import admin_change_form_post, form_data
from tests.sso.conftest import Registered, refresh, register, sign_in

pytestmark = pytest.mark.django_db

CHANGE = "admin:sso_application_change"


def _works(rp: Registered, tokens: dict[str, str]) -> bool:
    bearer = f"Bearer {tokens['access_token']}"
    userinfo = Client().get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=bearer)
    return userinfo.status_code == 200


def _refreshes(rp: Registered, tokens: dict[str, str]) -> bool:
    return refresh(Client(), rp, tokens["refresh_token"]).status_code == 200


@pytest.fixture
def signed_in(owner: User, user_factory) -> tuple[Registered, dict[str, dict[str, str]], dict]:
    """An unrestricted application with a member and a non-member, each signed in to it."""
    rp = register(owner)
    member, outsider = user_factory(), user_factory()
    ApplicationMember.objects.create(application=rp.app, user=member)
    tokens = {"member": sign_in(Client(), rp, member), "outsider": sign_in(Client(), rp, outsider)}
    return rp, tokens, {"member": member, "outsider": outsider}


def test_admin_restricting_an_app_ends_a_non_members_tokens_and_keeps_a_members(
    admin_client, signed_in
):
    rp, tokens, _ = signed_in

    admin_change_form_post(admin_client, CHANGE, rp.app, restricted=True)

    assert Application.objects.get(pk=rp.app.pk).restricted
    assert not _works(rp, tokens["outsider"])
    assert not _refreshes(rp, tokens["outsider"])
    assert _works(rp, tokens["member"])
    assert _refreshes(rp, tokens["member"])


def test_admin_restricting_an_app_keeps_a_member_added_in_the_same_save(admin_client, signed_in):
    rp, tokens, users = signed_in
    new_member = {
        "memberships-TOTAL_FORMS": "2",
        "memberships-1-user": str(users["outsider"].pk),
    }

    admin_change_form_post(admin_client, CHANGE, rp.app, restricted=True, **new_member)

    assert ApplicationMember.objects.filter(application=rp.app, user=users["outsider"]).exists()
    assert _works(rp, tokens["outsider"])
    assert _works(rp, tokens["member"])


def test_admin_removing_a_member_of_a_restricted_app_ends_their_tokens(admin_client, signed_in):
    rp, tokens, _ = signed_in
    admin_change_form_post(admin_client, CHANGE, rp.app, restricted=True)

    admin_change_form_post(admin_client, CHANGE, rp.app, **{"memberships-0-DELETE": True})

    assert not ApplicationMember.objects.filter(application=rp.app).exists()
    assert not _works(rp, tokens["member"])
    assert not _refreshes(rp, tokens["member"])


def test_admin_change_forgets_the_cached_application(admin_client, owner):
    """The change goes through the service, which drops the token endpoint's cached row."""
    rp = register(owner)
    application_cache_put(application=rp.app)

    admin_change_form_post(admin_client, CHANGE, rp.app, description="Changed by an admin")

    assert application_cached(client_id=rp.client_id) is None


def test_admin_refuses_a_name_the_owner_already_uses_on_the_form(admin_client, owner):
    first, second = register(owner, name="First"), register(owner, name="Second")
    page = admin_client.get(reverse(CHANGE, args=[second.app.pk]))
    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    data["name"] = "First"

    response = admin_client.post(reverse(CHANGE, args=[second.app.pk]), data)

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert Application.objects.get(pk=second.app.pk).name == "Second"
    assert first.app.name == "First"


def test_admin_offers_no_add_form_for_applications(admin_client):
    """Owners register applications (a client type, a secret shown once); the admin's form
    could set neither."""
    assert admin_client.get(reverse("admin:sso_application_add")).status_code == 403


def test_admin_withdraws_a_consent_through_the_service(admin_client, owner, user, monkeypatch):
    rp = register(owner)
    consent = services.consent_grant(user=user, application=rp.app, scopes=["openid"])
    calls = []
    withdraw = services.consent_withdraw
    monkeypatch.setattr(
        services, "consent_withdraw", lambda **kw: (calls.append(kw["consent"].pk), withdraw(**kw))
    )

    response = admin_client.post(
        reverse("admin:sso_consent_delete", args=[consent.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert calls == [consent.pk]
    assert not Consent.objects.filter(pk=consent.pk).exists()


def test_admin_withdraws_an_invitation_through_the_service(admin_client, owner, monkeypatch):
    rp = register(owner)
    invitation = services.application_member_invite(
        application=rp.app, login="nobody-yet@example.com", invited_by=owner
    )
    calls = []
    withdraw = services.application_invitation_withdraw
    monkeypatch.setattr(
        services,
        "application_invitation_withdraw",
        lambda **kw: (calls.append(kw), withdraw(**kw)),
    )

    url = reverse("admin:sso_applicationinvitation_delete", args=[invitation.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert calls == [{"application": rp.app, "public_id": str(invitation.public_id)}]
    assert not ApplicationInvitation.objects.exists()
