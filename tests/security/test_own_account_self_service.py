"""One's own email, password and deletion are self-service, with the current password, on every
channel: the users API, an admin.write token and the Django admin are no way round it, so a
stolen administrator session or token does not take the account over (issue 16, item 4)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.admin_forms import form_data
from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.security.conftest import api_as, holder_of, staff_with_django_perms, user_url
from tests.security.test_oauth_scopes import (
    ADMIN_SCOPES,
    _trusted,
)
from tests.sso.conftest import (
    sign_in,
)

pytestmark = pytest.mark.django_db


def test_user_manager_cannot_move_their_own_email_through_the_users_api(mailoutbox):
    """PATCH /me/ needs the current password; the users API on one's own account must too,
    or a stolen user-manager session moves the account to the thief's mailbox."""
    manager = holder_of("user-manager")
    response = api_as(manager).patch(
        user_url(manager), {"email": "thief@example.com"}, format="json"
    )
    assert_problem(response, 403, "reauthentication_required")
    assert not any("thief@example.com" in message.to for message in mailoutbox)


def test_user_manager_cannot_delete_their_own_account_through_the_users_api():
    """Self-service deletion needs the password; the users API on oneself is no way round."""
    manager = holder_of("user-manager")
    response = api_as(manager).delete(user_url(manager))
    assert_problem(response, 403, "reauthentication_required")
    assert User.objects.filter(pk=manager.pk).exists()


def test_admin_write_token_cannot_change_its_users_email_or_delete_them(
    client, owner, bearer_client
):
    """Item 2: no scope lets an app change the email or delete the account, admin.write on
    the user's own account included."""
    manager = holder_of("user-manager")
    tokens = sign_in(client, _trusted(owner), manager, scope=ADMIN_SCOPES)
    api = bearer_client(tokens["access_token"])
    response = api.patch(user_url(manager), {"email": "app@example.com"}, format="json")
    assert_problem(response, 403, "reauthentication_required")
    assert_problem(api.delete(user_url(manager)), 403, "reauthentication_required")
    manager.refresh_from_db()
    assert manager.email != "app@example.com"


def test_admin_staff_cannot_move_their_own_email_in_the_admin():
    """Item 4 in the Django admin: one's own address is changed on the account page, with
    the current password; the admin form would move it at once, without even a link."""
    staff = staff_with_django_perms("accounts.view_user", "accounts.change_user")
    client = Client()
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[staff.pk])
    page = client.get(url)
    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_data(form))
    data["email"] = "thief@example.com"
    client.post(url, data)
    assert User.objects.get(pk=staff.pk).email != "thief@example.com"


def test_admin_cannot_set_their_own_password_without_the_current_one(client):
    """Django's admin password form asks only for the new password: on one's own account it
    would turn a stolen admin session into the account (ASVS 2.1.6). It sends the admin to
    the account's password page instead."""
    admin = UserFactory(superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:auth_user_password_change", args=[admin.pk]),
        {"password1": "a brand new passphrase 7", "password2": "a brand new passphrase 7"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    assert User.objects.get(pk=admin.pk).check_password(admin.raw_password)
