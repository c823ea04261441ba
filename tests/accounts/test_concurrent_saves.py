"""Saves write only what they changed: a stale copy of a row never reverts a concurrent change.

Each test loads a row in "process 1" (a request that started before), changes it in
"process 2" (an administrator deactivating the account), then lets process 1 finish the save
its code path makes, and checks that process 2's change survived.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from accounts import services
from accounts.models import User
from sso import services as sso_services
from sso.models import Application
from tests.admin_forms import admin_change_form_post
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a different long secret 99"


def _deactivated_elsewhere(user: User) -> User:
    """Process 2: loads its own copy and deactivates through the service."""
    services.user_deactivate(user=User.objects.get(pk=user.pk))
    return user


def _is_active(user: User) -> bool:
    return User.objects.get(pk=user.pk).is_active


def test_password_change_keeps_a_concurrent_deactivation(user):
    stale = User.objects.get(pk=user.pk)
    _deactivated_elsewhere(user)
    services.password_change(
        user=stale, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD
    )
    assert not _is_active(user)


def test_first_sign_in_password_choice_keeps_a_concurrent_deactivation(user_factory):
    user = user_factory(needs_password_change=True)
    stale = User.objects.get(pk=user.pk)
    _deactivated_elsewhere(user)
    services.account_confirm(user=stale, new_password=NEW_PASSWORD)
    assert not _is_active(user)


def test_username_change_keeps_a_concurrent_deactivation(user):
    stale = User.objects.get(pk=user.pk)
    _deactivated_elsewhere(user)
    services.user_update(user=stale, data={"username": "renamed"})
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.username, fresh.is_active) == ("renamed", False)


def test_username_change_keeps_a_concurrent_password_change(user):
    stale = User.objects.get(pk=user.pk)
    services.password_change(
        user=User.objects.get(pk=user.pk),
        current_password=DEFAULT_PASSWORD,
        new_password=NEW_PASSWORD,
    )
    services.user_update(user=stale, data={"username": "renamed"})
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


def test_sign_in_upgrading_the_password_hash_keeps_a_concurrent_deactivation(user):
    User.objects.filter(pk=user.pk).update(
        password=make_password(DEFAULT_PASSWORD, hasher="pbkdf2_sha256")
    )
    stale = User.objects.get(pk=user.pk)  # what the sign-in looked up
    _deactivated_elsewhere(user)
    assert stale.check_password(DEFAULT_PASSWORD)  # rehashes with the preferred hasher, saves
    fresh = User.objects.get(pk=user.pk)
    assert not fresh.is_active
    assert not fresh.password.startswith("pbkdf2_sha256$")


def test_application_edit_by_its_owner_keeps_a_concurrent_admin_change(user):
    app, _ = sso_services.application_create(
        owner=user,
        name="Owner app",
        client_type="confidential",
        redirect_uris="https://rp.example.com/callback",
    )
    sso_services.application_first_party_set(application=app, is_first_party=True)
    stale = Application.objects.get(pk=app.pk)
    # An administrator takes the first-party flag away (no more consent skipping) ...
    sso_services.application_first_party_set(
        application=Application.objects.get(pk=app.pk), is_first_party=False
    )
    # ... while the owner's edit page, loaded before, saves a new description.
    sso_services.application_update(application=stale, description="New words")
    fresh = Application.objects.get(pk=app.pk)
    assert (fresh.description, fresh.is_first_party) == ("New words", False)


def test_admin_application_form_writes_only_what_it_changed(client, user_factory, user):
    client.force_login(user_factory(superuser=True))
    app, _ = sso_services.application_create(
        owner=user,
        name="Owner app",
        client_type="confidential",
        redirect_uris="https://rp.example.com/callback",
    )
    admin_change_form_post(client, "admin:sso_application_change", app, description="Edited")
    fresh = Application.objects.get(pk=app.pk)
    assert fresh.description == "Edited"
    assert fresh.client_secret == app.client_secret  # the stored hash, untouched
