"""One way to cause each event type, as the portal's users do: ``TRIGGERS[type](context)``.

Each trigger makes what it needs with the factories (rows written directly, so the set-up
itself writes no event), then takes one action through the real service or HTTP endpoint,
which writes the event. It returns what that event must say (``Expected``) and adds every
secret it used (passwords, codes, tokens) to ``context.secrets``, so that a test can prove no
payload carries one. Triggers are independent of each other and may all run in one database.

Side effects a receiver may see: the lockout trigger's last failed sign-in is also a
sign-in.failed (written only when someone subscribes to it).
"""

from __future__ import annotations

import contextlib
import secrets as random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyotp
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import OneTimeToken, TotpDevice, User
from accounts.services import mfa
from accounts.services.mfa.recovery import recovery_codes_replace
from accounts.services.secrets import secret_issue
from identity.encryption import encrypt
from identity.events import TARGET_FINDERS, DeliveryTarget, target_finder_add
from identity.models import Event
from sso.models import Application
from tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory, UserSessionFactory
from tests.identity.outbox_receiver import TEST_KIND

# The client address of every HTTP trigger (Django's test client).
TEST_IP = "127.0.0.1"


@dataclass
class TriggerContext:
    """What triggers share with their test: the secrets they used, to look for in payloads."""

    secrets: set[str] = field(default_factory=lambda: {DEFAULT_PASSWORD})


@dataclass(frozen=True)
class Expected:
    """What the event a trigger causes says: whose account, who did it, and its ids."""

    subject: User | None
    actor: User | None
    data: dict[str, Any] = field(default_factory=dict)
    sid: str = ""
    client_id: str = ""


Trigger = Callable[[TriggerContext], Expected]

FAILURES_RECEIVER = DeliveryTarget(kind=TEST_KIND, target="siem", url="http://127.0.0.1:9/hook")


def _failures_finder(events: Sequence[Event]) -> Iterator[tuple[Event, DeliveryTarget]]:
    for event in events:
        if event.type == "sign_in.failed":
            yield event, FAILURES_RECEIVER


@contextlib.contextmanager
def failures_subscribed() -> Iterator[None]:
    """A receiver of failed sign-ins (a SIEM) while inside: without one, none is written."""
    target_finder_add(_failures_finder)
    try:
        yield
    finally:
        TARGET_FINDERS.remove(_failures_finder)


def _admin() -> User:
    return UserFactory(superuser=True)


def _api_as(user: User) -> APIClient:
    # Authenticated without a sign-in, so that the set-up writes no sign_in.succeeded.
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _new_password(context: TriggerContext) -> str:
    password = f"Fresh {random.token_urlsafe(12)} passphrase"
    context.secrets.add(password)
    return password


def _with_totp(user: User, context: TriggerContext) -> pyotp.TOTP:
    """A confirmed authenticator app, written as rows (no mfa.factor_added)."""
    seed = pyotp.random_base32(length=32)
    context.secrets.add(seed)
    TotpDevice.objects.create(
        user=user, secret_encrypted=encrypt(seed.encode()), confirmed_at=timezone.now()
    )
    mfa.user_mfa_refresh(user=user)
    return pyotp.TOTP(seed)


def _application(owner: User, context: TriggerContext) -> Application:
    secret = random.token_urlsafe(32)
    context.secrets.add(secret)
    return Application.objects.create(
        user=owner,
        name=f"App {random.token_hex(4)}",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://rp.example.com/callback",
        algorithm=Application.RS256_ALGORITHM,
        client_secret=secret,
        hash_client_secret=True,
    )


# -- accounts ------------------------------------------------------------------------------


def user_created(context: TriggerContext) -> Expected:
    """An administrator creates an account over the users API (an invitation is mailed)."""
    admin = _admin()
    name = f"new.{random.token_hex(4)}"
    response = _api_as(admin).post(
        reverse("api:accounts:users"),
        {"username": name, "email": f"{name}@example.com"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Expected(User.objects.get(username=name), admin, {"how": "invitation"})


def user_updated(context: TriggerContext) -> Expected:
    """The user edits their profile over the API."""
    user = UserFactory()
    response = _api_as(user).patch(
        reverse("api:accounts:me_profile"), {"first_name": "Changed"}, format="json"
    )
    assert response.status_code == 200, response.content
    return Expected(user, user, {"changed": ["first_name"]})


def user_deactivated(context: TriggerContext) -> Expected:
    admin, user = _admin(), UserFactory()
    response = _api_as(admin).patch(
        reverse("api:accounts:user", args=[user.public_id]), {"is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    return Expected(user, admin)


def user_reactivated(context: TriggerContext) -> Expected:
    admin, user = _admin(), UserFactory(is_active=False)
    response = _api_as(admin).patch(
        reverse("api:accounts:user", args=[user.public_id]), {"is_active": True}, format="json"
    )
    assert response.status_code == 200, response.content
    return Expected(user, admin)


def user_deleted(context: TriggerContext) -> Expected:
    admin, user = _admin(), UserFactory()
    response = _api_as(admin).delete(reverse("api:accounts:user", args=[user.public_id]))
    assert response.status_code == 204, response.content
    return Expected(user, admin)


def user_email_changed(context: TriggerContext) -> Expected:
    """The link sent to a new address is used (the change request mailed it)."""
    user = UserFactory()
    token, _ = secret_issue(
        user=user,
        purpose=OneTimeToken.Purpose.VERIFY_EMAIL,
        ttl=settings.EMAIL_VERIFICATION_TTL,
        email=f"moved.{random.token_hex(4)}@example.com",
    )
    context.secrets.add(token)
    response = APIClient().post(
        reverse("api:accounts:verify_email"), {"token": token}, format="json"
    )
    assert response.status_code == 200, response.content
    return Expected(user, user, {"email_verified": True})


def user_password_changed(context: TriggerContext) -> Expected:
    user = UserFactory()
    new = _new_password(context)
    body = {
        "current_password": DEFAULT_PASSWORD,
        "new_password": new,
        "new_password_confirm": new,
    }
    response = _api_as(user).post(reverse("api:accounts:me_password"), body, format="json")
    assert response.status_code in (200, 204), response.content
    return Expected(user, user, {"how": "change"})


# -- sign-ins --------------------------------------------------------------------------------


def sign_in_succeeded(context: TriggerContext) -> Expected:
    user = UserFactory()
    response = APIClient().post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    context.secrets.update(response.json()[key] for key in ("access_token", "refresh_token"))
    sid = str(user.sessions.get().pk)
    return Expected(user, user, {"channel": "api", "amr": ["pwd"]}, sid=sid)


def sign_in_failed(context: TriggerContext) -> Expected:
    """A wrong password on the API (written only when a receiver wants failures)."""
    user = UserFactory()
    wrong = _new_password(context)
    response = APIClient().post(
        reverse("api:accounts:login"), {"login": user.username, "password": wrong}, format="json"
    )
    assert response.status_code == 401, response.content
    data = {"channel": "api", "outcome": "bad_credentials", "ip": TEST_IP}
    return Expected(user, None, data)


def session_revoked(context: TriggerContext) -> Expected:
    session = UserSessionFactory()
    account_services.user_session_revoke(
        user=session.user, session_id=str(session.pk), reason="revoked"
    )
    return Expected(session.user, None, sid=str(session.pk))


def lockout_started(context: TriggerContext) -> Expected:
    """The failure that reaches AXES_FAILURE_LIMIT (the ones before it stored as axes rows)."""
    user = UserFactory()
    AccessAttempt.objects.create(
        username=user.username.lower(),
        ip_address=TEST_IP,
        user_agent="",
        get_data="",
        post_data="",
        http_accept="",
        path_info=reverse("api:accounts:login"),
        failures_since_start=settings.AXES_FAILURE_LIMIT - 1,
    )
    wrong = _new_password(context)
    response = APIClient().post(
        reverse("api:accounts:login"), {"login": user.username, "password": wrong}, format="json"
    )
    assert response.status_code in (401, 429), response.content
    return Expected(user, None, {"channel": "api", "ip": TEST_IP})


# -- roles -----------------------------------------------------------------------------------


def role_assigned(context: TriggerContext) -> Expected:
    admin, user, role = _admin(), UserFactory(), RoleFactory()
    response = _api_as(admin).post(
        reverse("api:authz:user_roles", args=[user.public_id]), {"role": role.name}, format="json"
    )
    assert response.status_code == 201, response.content
    return Expected(user, admin, {"role": role.name, "expires_at": None})


def role_revoked(context: TriggerContext) -> Expected:
    admin, user, role = _admin(), UserFactory(), RoleFactory()
    # The grant as a row: role_assign would write a role.assigned first.
    user.role_assignments.create(role=role, granted_by=admin)
    response = _api_as(admin).delete(
        reverse("api:authz:user_role", args=[user.public_id, role.name])
    )
    assert response.status_code == 204, response.content
    return Expected(user, admin, {"role": role.name, "expires_at": None})


# -- second factors --------------------------------------------------------------------------


def mfa_factor_added(context: TriggerContext) -> Expected:
    """The user adds an authenticator app over the API: start, then confirm with a code."""
    user = UserFactory()
    api = _api_as(user)
    proof = {"current_password": DEFAULT_PASSWORD}
    started = api.post(reverse("api:accounts:me_mfa_totp"), proof, format="json")
    assert started.status_code in (200, 201), started.content
    seed = started.json()["secret"]
    code = pyotp.TOTP(seed).now()
    context.secrets.update({seed, code})
    confirmed = api.post(reverse("api:accounts:me_mfa_totp_confirm"), {"code": code}, format="json")
    assert confirmed.status_code in (200, 201), confirmed.content
    context.secrets.update(confirmed.json().get("recovery_codes", []))
    return Expected(user, user, {"method": "totp", "first": True})


def mfa_factor_removed(context: TriggerContext) -> Expected:
    user = UserFactory()
    _with_totp(user, context)
    response = _api_as(user).delete(
        reverse("api:accounts:me_mfa_totp"), {"current_password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 204, response.content
    return Expected(user, user, {"method": "totp"})


def mfa_recovery_codes_generated(context: TriggerContext) -> Expected:
    user = UserFactory()
    _with_totp(user, context)
    response = _api_as(user).post(
        reverse("api:accounts:me_mfa_recovery_codes"),
        {"current_password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    codes = response.json()["recovery_codes"]
    context.secrets.update(codes)
    return Expected(user, user, {"count": len(codes)})


def mfa_recovery_code_used(context: TriggerContext) -> Expected:
    """A recovery code proves the second step of a sign-in (the pending step made directly)."""
    user = UserFactory()
    _with_totp(user, context)
    codes = recovery_codes_replace(user=user)
    context.secrets.update(codes)
    mfa.factor_prove(user=user, proof=mfa.Proof(method=mfa.METHOD_RECOVERY_CODE, code=codes[0]))
    return Expected(user, user)


# -- applications ----------------------------------------------------------------------------


def application_created(context: TriggerContext) -> Expected:
    owner = UserFactory()
    response = _api_as(owner).post(
        reverse("api:sso:applications"),
        {
            "name": f"App {random.token_hex(4)}",
            "client_type": "confidential",
            "redirect_uris": ["https://rp.example.com/callback"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    context.secrets.add(response.json()["client_secret"])
    client_id = response.json()["client_id"]
    return Expected(owner, owner, client_id=client_id)


def application_updated(context: TriggerContext) -> Expected:
    owner = UserFactory()
    application = _application(owner, context)
    response = _api_as(owner).patch(
        reverse("api:sso:application", args=[application.client_id]),
        {"description": "Changed"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return Expected(owner, owner, {"changed": ["description"]}, client_id=application.client_id)


def application_deleted(context: TriggerContext) -> Expected:
    owner = UserFactory()
    application = _application(owner, context)
    client_id = application.client_id
    response = _api_as(owner).delete(reverse("api:sso:application", args=[client_id]))
    assert response.status_code == 204, response.content
    return Expected(owner, owner, client_id=client_id)


TRIGGERS: dict[str, Trigger] = {
    "user.created": user_created,
    "user.updated": user_updated,
    "user.deactivated": user_deactivated,
    "user.reactivated": user_reactivated,
    "user.deleted": user_deleted,
    "user.email_changed": user_email_changed,
    "user.password_changed": user_password_changed,
    "sign_in.succeeded": sign_in_succeeded,
    "sign_in.failed": sign_in_failed,
    "session.revoked": session_revoked,
    "lockout.started": lockout_started,
    "role.assigned": role_assigned,
    "role.revoked": role_revoked,
    "mfa.factor_added": mfa_factor_added,
    "mfa.factor_removed": mfa_factor_removed,
    "mfa.recovery_codes_generated": mfa_recovery_codes_generated,
    "mfa.recovery_code_used": mfa_recovery_code_used,
    "application.created": application_created,
    "application.updated": application_updated,
    "application.deleted": application_deleted,
}
