"""Every change the accounts admin makes goes through accounts.services: adds show the
service's own row, deactivation and deletion end every sign-in, the inlines and the rule and
lockout pages call their services; the admin modules keep no private-state tricks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.admin.sites import site
from django.urls import reverse

import accounts.admin
from accounts import services
from accounts.models import EmailDomainRule, Profile, User
from authz.admin import RoleAssignmentInline
from tests.accounts.test_admin_ends_sign_ins import _live, _refreshes, _sign_in_everywhere
from tests.admin_forms import admin_change_form_post, form_data

pytestmark = pytest.mark.django_db

ADMIN_MODULES = ["accounts/admin.py", "authz/admin.py", "sso/admin.py", "identity/admin.py"]


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[dict]:
    """Records the keyword arguments of each call to ``owner.name`` and calls it through."""
    calls: list[dict] = []
    real = getattr(owner, name)

    def spy(**kwargs: object) -> object:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


@pytest.mark.parametrize("path", ADMIN_MODULES)
def test_admin_modules_touch_no_private_model_state(path):
    """No ``obj._state.adding = False``: the admin shows the object the service returned."""
    source = (Path(settings.BASE_DIR) / path).read_text()
    assert "_state" not in source


def test_authz_admin_imports_nothing_from_accounts():
    """authz builds on identity only; accounts' admin includes authz's inline instead."""
    tree = ast.parse((Path(settings.BASE_DIR) / "authz/admin.py").read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.split(".")[0] == "accounts"]
    assert RoleAssignmentInline in site._registry[User].inlines


def test_admin_add_user_shows_the_account_the_service_made(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"username": "newcomer", "email": "newcomer@example.com", "user_type": "customer"},
    )

    user = User.objects.get(username="newcomer")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_user_change", args=[user.pk])
    logged = LogEntry.objects.get(action_flag=ADDITION)
    assert (logged.object_id, logged.user_id) == (str(user.pk), admin_user.pk)
    assert admin_client.get(response["Location"]).status_code == 200


def test_admin_deactivate_action_ends_every_sign_in(admin_client, user, user_factory, api_tokens):
    signins = _sign_in_everywhere(user, user_factory(), api_tokens)

    admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate", "_selected_action": [user.pk]},
    )

    assert not User.objects.get(pk=user.pk).is_active
    assert _live(signins) == set()
    assert _refreshes(signins) == set()


def test_admin_delete_goes_through_the_service(admin_client, admin_user, user, monkeypatch):
    calls = _spy(monkeypatch, services, "user_delete_by_admin")

    response = admin_client.post(
        reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert [(c["actor"], c["user"].username) for c in calls] == [(admin_user, user.username)]
    assert not User.objects.filter(pk=user.pk).exists()


def test_admin_bulk_delete_goes_through_the_service(admin_client, user_factory, monkeypatch):
    users = [user_factory(), user_factory()]
    calls = _spy(monkeypatch, services, "user_delete_by_admin")

    admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [u.pk for u in users], "post": "yes"},
    )

    assert sorted(c["user"].username for c in calls) == sorted(u.username for u in users)
    assert not User.objects.filter(pk__in=[u.pk for u in users]).exists()


def test_admin_cannot_delete_their_own_account(admin_client, admin_user):
    """One's own deletion is confirmed with the password on the account page."""
    url = reverse("admin:accounts_user_delete", args=[admin_user.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_admin_profile_inline_saves_through_profile_update(admin_client, user, monkeypatch):
    calls = _spy(monkeypatch, services, "profile_update")

    admin_change_form_post(
        admin_client, "admin:accounts_user_change", user, **{"profile-0-first_name": "Ada"}
    )

    assert [(c["user"], c["data"]) for c in calls] == [(user, {"first_name": "Ada"})]
    assert Profile.objects.get(user=user).first_name == "Ada"


def test_admin_email_domain_rules_change_through_their_services(admin_client, monkeypatch):
    created = _spy(monkeypatch, services, "email_domain_rule_create")
    updated = _spy(monkeypatch, services, "email_domain_rule_update")
    deleted = _spy(monkeypatch, services, "email_domain_rule_delete")

    admin_client.post(
        reverse("admin:accounts_emaildomainrule_add"), {"domain": "corp.com", "action": "allow"}
    )
    rule = EmailDomainRule.objects.get()
    admin_change_form_post(
        admin_client, "admin:accounts_emaildomainrule_change", rule, domain="Other.ORG."
    )
    admin_client.post(reverse("admin:accounts_emaildomainrule_delete", args=[rule.pk]), {"post": 1})

    assert [c["domain"] for c in created] == ["corp.com"]
    assert [c["data"] for c in updated] == [{"domain": "Other.ORG."}]
    assert len(deleted) == 1
    assert not EmailDomainRule.objects.exists()


def test_admin_deleting_a_lockout_record_lifts_it_through_the_service(admin_client, monkeypatch):
    attempt = AccessAttempt.objects.create(
        username="locked",
        ip_address="203.0.113.9",
        failures_since_start=5,
        get_data="",
        post_data="",
    )
    calls = _spy(monkeypatch, accounts.admin, "lockout_lift")

    admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": 1})

    assert calls == [{"attempt_ids": [attempt.pk]}]
    assert not AccessAttempt.objects.exists()


def test_admin_email_change_is_requested_like_the_users_api(admin_client, user, mailoutbox):
    """The change form's new address gets a link, as PATCH /api/v1/users/{id}/ does; the
    account keeps its proven address until the link is used."""
    old_email, verified_at = user.email, user.email_verified_at

    admin_change_form_post(
        admin_client, "admin:accounts_user_change", user, email="New.Address@example.com"
    )

    user.refresh_from_db()
    assert (user.email, user.email_verified_at) == (old_email, verified_at)
    assert services.email_change_pending(user=user) == "new.address@example.com"
    assert {to for message in mailoutbox for to in message.to} == {
        "new.address@example.com",
        old_email,
    }


def test_admin_email_change_obeys_the_domain_rules(
    admin_client, user, email_domain_rule_factory, mailoutbox
):
    email_domain_rule_factory(domain="blocked.example", action="block")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = admin_client.get(url)
    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    data["email"] = "eve@blocked.example"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert mailoutbox == []


def test_admin_email_change_may_override_the_domain_rules_and_it_is_recorded(
    admin_client, admin_user, user, email_domain_rule_factory, mailoutbox
):
    email_domain_rule_factory(domain="blocked.example", action="block")

    admin_change_form_post(
        admin_client,
        "admin:accounts_user_change",
        user,
        email="eve@blocked.example",
        ignore_domain_rules=True,
    )

    assert "eve@blocked.example" in {to for message in mailoutbox for to in message.to}
    entries = LogEntry.objects.filter(object_id=str(user.pk), user=admin_user)
    assert any("email-domain rules" in entry.get_change_message() for entry in entries)
