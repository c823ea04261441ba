"""Creating, verifying, changing and deleting accounts."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import emails
from accounts.errors import (
    EmailExists,
    LinkInvalid,
    ReauthenticationRequired,
    UsernameExists,
)
from accounts.models import OneTimeToken, Profile, User, UserType, ci_equals
from accounts.services import events
from accounts.services.domain_rules import (
    ADMIN_REFUSAL,
    email_domain_override_record,
    email_domain_rules_apply,
)
from accounts.services.login import user_reauthenticate
from accounts.services.passwords import password_reset_request
from accounts.services.secrets import secret_consume, secret_issue, secrets_revoke
from accounts.services.sessions import user_session_revoke, user_sessions_revoke
from authz import services as authz_services
from authz.selectors import account_action_check

logger = logging.getLogger(__name__)

VERIFY = OneTimeToken.Purpose.VERIFY_EMAIL
RESET = OneTimeToken.Purpose.PASSWORD_RESET
# The optional profile fields sign-up and an administrator's create accept with the account.
NEW_ACCOUNT_PROFILE_FIELDS = ("first_name", "last_name", "phone_number")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def user_sign_up(
    *,
    username: str,
    email: str,
    password: str,
    conceal_taken_email: bool = False,
    profile: dict[str, str] | None = None,
) -> User | None:
    """Self-service sign-up: domain rules, password rules, then the verification email.

    With ``conceal_taken_email`` (the sign-up page), an address that already has an account
    gets the answer of a successful sign-up (None) and its owner an email instead (ASVS 5.0
    V6.3.8: no account enumeration); the API keeps its documented 409 ``email_exists``.
    """
    username, email = (username or "").strip(), normalise_email(email)
    email_domain_rules_apply(email=email, message=_domain_refusal_message())
    if (
        conceal_taken_email
        and not User.objects.filter(ci_equals("username", username)).exists()
        and User.objects.filter(ci_equals("email", email)).exists()
    ):
        _sign_up_with_taken_email(
            username=username, email=email, password=password, profile=profile
        )
        return None
    _ensure_free(username=username, email=email)
    user = User(username=username, email=email)
    _validate_new_password(password, user=user, field="password")
    user = _user_insert(user=user, password=password, profile=profile)
    events.user_event_record("user.created", user=user, data={"how": "sign_up"})
    authz_services.signup_roles_grant(user=user)
    transaction.on_commit(lambda: email_verification_send(user=user))
    return user


def user_create(
    *,
    username: str,
    email: str,
    user_type: str = UserType.CUSTOMER,
    password: str | None = None,
    email_verified: bool = False,
    is_staff: bool = False,
    profile: dict[str, str] | None = None,
    actor: User | None = None,
    ignore_domain_rules: bool = False,
) -> User:
    """An account made by an administrator: a temporary password, or an invitation email.

    The email-domain rules hold here as at sign-up; ``ignore_domain_rules`` is the
    administrator's explicit exception, recorded with ``actor`` in the account's history."""
    username, email = (username or "").strip(), normalise_email(email)
    overridden = _domain_rules_apply_for_admin(email=email, actor=actor, ignore=ignore_domain_rules)
    _ensure_free(username=username, email=email)
    user = User(
        username=username,
        email=email,
        user_type=user_type,
        is_staff=is_staff,
        must_change_password=bool(password),
        email_verified_at=timezone.now() if email_verified else None,
    )
    if password:
        _validate_new_password(password, user=user, field="password")
    user = _user_insert(user=user, password=password, profile=profile)
    how = "admin" if password else "invitation"
    events.user_event_record("user.created", user=user, actor=actor, data={"how": how})
    if overridden and actor is not None:
        email_domain_override_record(actor=actor, user=user, email=email, created=True)
    if not password:
        transaction.on_commit(lambda: _invitation_send(user=user))
    elif not email_verified:
        transaction.on_commit(lambda: email_verification_send(user=user))
    return user


def user_update(
    *,
    user: User,
    data: dict[str, Any],
    actor: User | None = None,
    ignore_domain_rules: bool = False,
) -> User:
    """Changes username or email; a new email waits for verification of the new address
    (user.email_changed is written when it is verified, email_verify).

    ``actor`` and ``ignore_domain_rules``: an administrator's change (see user_create)."""
    with transaction.atomic():
        changed = _user_update(
            user=user, data=data, actor=actor, ignore_domain_rules=ignore_domain_rules
        )
        events.user_update_record(user=user, changed=changed, actor=actor or user)
    return user


def _user_update(
    *, user: User, data: dict[str, Any], actor: User | None, ignore_domain_rules: bool
) -> list[str]:
    """user_update's change; returns the names of the fields changed now."""
    changed = []
    username = data.get("username")
    if username is not None and username.strip() != user.username:
        username = username.strip()
        if User.objects.filter(ci_equals("username", username)).exclude(pk=user.pk).exists():
            raise UsernameExists()
        user.username = username
        user.full_clean(exclude=["password", "email"], validate_unique=False)
        _save_unique(user, update_fields=["username", "updated_at"])
        changed.append("username")
    email = data.get("email")
    if email is not None and normalise_email(email) != user.email:
        email_change_request(
            user=user, new_email=email, actor=actor, ignore_domain_rules=ignore_domain_rules
        )
    return changed


_PROFILE_FIELDS = ("first_name", "last_name", "phone_number", "address", "date_of_birth")


def user_update_own(
    *,
    user: User,
    data: dict[str, Any],
    current_password: str | None = None,
    code: str | None = None,
    session_id: str | None = None,
    request: HttpRequest | None = None,
) -> User:
    """The user's own change of username or email: a new address needs a recent proof (the
    current password, a factor's code, or a sign-in proven within REAUTHENTICATION_SECONDS),
    so that a stolen session cannot move the account to the thief's mailbox."""
    if _email_changes(user=user, email=data.get("email")):
        user_reauthenticate(
            request=request,
            user=user,
            password=current_password,
            code=code,
            session_id=session_id,
        )
    return user_update(user=user, data=data)


def profile_update(*, user: User, data: dict[str, Any], actor: Any = None) -> Profile:
    """The profile page, the API's and the admin's inline; ``actor`` who changes it (the user
    on their own pages)."""
    with transaction.atomic():
        profile, changed = _profile_update(user=user, data=data)
        events.user_update_record(user=user, changed=changed, actor=actor)
    return profile


def _profile_update(*, user: User, data: dict[str, Any]) -> tuple[Profile, list[str]]:
    profile, _ = Profile.objects.get_or_create(user=user)
    given = [field for field in _PROFILE_FIELDS if field in data]
    changed = [field for field in given if getattr(profile, field) != data[field]]
    for field in given:
        setattr(profile, field, data[field])
    profile.full_clean(exclude=["user"])
    # Only the fields given: an administrator may be editing the others at the same time.
    profile.save(update_fields=[*given, "updated_at"])
    return profile, changed


def user_delete(
    *,
    user: User,
    password: str | None = None,
    code: str | None = None,
    session_id: str | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Self-service deletion, after a recent proof: the password or a factor's code (through
    axes with ``request``), or a sign-in proven within REAUTHENTICATION_SECONDS."""
    user_reauthenticate(
        request=request,
        user=user,
        password=password,
        code=code,
        session_id=session_id,
        password_field="password",  # noqa: S106 - a field name
    )
    logger.info("user %s deleted their account", user.public_id)
    _user_delete(user=user, actor=user)


@transaction.atomic
def user_deactivate(*, user: User, actor: Any = None) -> None:
    user.is_active = False
    user.save(update_fields=["is_active", "updated_at"])
    events.user_event_record("user.deactivated", user=user, actor=actor)
    user_sessions_revoke(user=user, reason="deactivated")


@transaction.atomic
def user_reactivate(*, user: User, actor: Any = None) -> None:
    user.is_active = True
    user.save(update_fields=["is_active", "updated_at"])
    events.user_event_record("user.reactivated", user=user, actor=actor)


@transaction.atomic
def user_update_by_admin(*, actor: User, user: User, data: dict[str, Any]) -> User:
    """An administrator's change to an account and its profile; never the password."""
    account_action_check(actor=actor, target=user)
    if _is_self(actor, user) and _email_changes(user=user, email=data.get("email")):
        raise ReauthenticationRequired(OWN_ACCOUNT_MESSAGE)
    changed = _admin_flags_set(user=user, data=data, actor=actor)
    if data.get("profile"):
        changed += _profile_update(user=user, data=data["profile"])[1]
    # Last, because a new email address sends its verification link at once.
    changed += _user_update(
        user=user,
        data=data,
        actor=actor,
        ignore_domain_rules=bool(data.get("ignore_domain_rules")),
    )
    events.user_update_record(user=user, changed=changed, actor=actor)
    return user


# Account switches with consequences beyond their column: each goes through its service.
_ADMIN_FORM_SWITCHES = ("is_active", "must_change_password", "password", "email")


@transaction.atomic
def user_update_from_admin_form(
    *, actor: User, user: User, changed: list[str], ignore_domain_rules: bool = False
) -> User:
    """Saves the admin change form: only the columns it changed (a full-row save would write
    back a stale copy of every other column), deactivation through ``user_deactivate`` so that
    every sign-in ends, a forced password change through its service, and a new email address
    as the users API takes it (email_change_request: the domain rules, a link to the address)."""
    account_action_check(actor=actor, target=user)
    new_email = user.email
    if "email" in changed:  # the form set it on the instance; the account keeps its own
        user.email = User.objects.values_list("email", flat=True).get(pk=user.pk)
    if _is_self(actor, user) and _email_changes(user=user, email=new_email):
        raise ReauthenticationRequired(OWN_ACCOUNT_MESSAGE)
    columns = {field.name for field in User._meta.concrete_fields}
    plain = [name for name in changed if name in columns and name not in _ADMIN_FORM_SWITCHES]
    if plain:
        _save_unique(user, update_fields=[*plain, "updated_at"])
    if _email_changes(user=user, email=new_email):
        email_change_request(
            user=user, new_email=new_email, actor=actor, ignore_domain_rules=ignore_domain_rules
        )
    if "is_active" in changed:
        if user.is_active:
            user_reactivate(user=user, actor=actor)
        else:
            user_deactivate(user=user, actor=actor)
    if "must_change_password" in changed:
        plain.append("must_change_password")
        if user.must_change_password:
            _password_change_require(user=user)
        else:
            user.save(update_fields=["must_change_password", "updated_at"])
    events.user_update_record(user=user, changed=plain, actor=actor)
    return user


def user_delete_by_admin(*, actor: User, user: User) -> None:
    """Deletes an account; its profile, sessions and secrets go with it, login history stays."""
    account_action_check(actor=actor, target=user)
    if _is_self(actor, user):
        raise ReauthenticationRequired(OWN_ACCOUNT_MESSAGE)
    logger.info("user %s deleted by an administrator", user.public_id)
    _user_delete(user=user, actor=actor)


@transaction.atomic
def _user_delete(*, user: User, actor: User) -> None:
    """Ends every sign-in first: the cascade removes the rows, but the caches that hold
    resolved tokens (sso's token cache, the sign-in memory) learn only of revoked sids. The
    event goes first too: it names the account by its public_id, which outlives the row."""
    events.user_event_record("user.deleted", user=user, actor=actor)
    user_sessions_revoke(user=user, reason="deleted")
    user.delete()


def user_password_reset_by_admin(*, actor: User, user: User) -> None:
    """Mails the user a reset link; refused on an account above the actor, whose reset would
    otherwise be the first step of taking it over."""
    account_action_check(actor=actor, target=user)
    password_reset_request(login=user.email)


def user_session_revoke_by_admin(*, actor: User, user: User, session_id: str) -> None:
    account_action_check(actor=actor, target=user)
    user_session_revoke(user=user, session_id=session_id, reason="revoked_by_admin")


def _admin_flags_set(*, user: User, data: dict[str, Any], actor: User) -> list[str]:
    """The administrator's switches; returns the plain fields changed (deactivation and
    reactivation are events of their own)."""
    changed = [
        field
        for field in ("user_type", "must_change_password")
        if field in data and getattr(user, field) != data[field]
    ]
    for field in changed:
        setattr(user, field, data[field])
    if changed:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        user.save(update_fields=[*changed, "updated_at"])
    if "must_change_password" in changed and user.must_change_password:
        _password_change_sign_ins_end(user=user)
    if data.get("is_active") is False and user.is_active:
        user_deactivate(user=user, actor=actor)
    elif data.get("is_active") is True and not user.is_active:
        user_reactivate(user=user, actor=actor)
    return changed


@transaction.atomic
def user_mark_email_verified(*, user: User, actor: Any = None) -> None:
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at", "updated_at"])
        events.user_update_record(user=user, changed=["email_verified"], actor=actor)


@transaction.atomic
def user_require_password_change(*, user: User, actor: Any = None) -> None:
    """Until the user chooses a new password, no channel serves them (the channels ask
    accounts.selectors.user_password_change_pending); what they were signed in with ends now."""
    _password_change_require(user=user)
    events.user_update_record(user=user, changed=["must_change_password"], actor=actor)


def _password_change_require(*, user: User) -> None:
    user.must_change_password = True
    user.save(update_fields=["must_change_password", "updated_at"])
    _password_change_sign_ins_end(user=user)


def _password_change_sign_ins_end(*, user: User) -> None:
    # Every channel at once: browser sessions, first-party refresh families, OAuth sign-ins.
    user_sessions_revoke(user=user, reason="password_change_required")


# -- email verification and change ----------------------------------------------------------


def email_verification_send(*, user: User, email: str = "") -> None:
    raw, _ = secret_issue(
        user=user, purpose=VERIFY, ttl=settings.EMAIL_VERIFICATION_TTL, email=email
    )
    link = emails.portal_link("accounts:verify_email", raw)
    emails.send_verification(username=user.username, to=email or user.email, link=link)


def email_verification_resend(*, email: str) -> None:
    """Sends a fresh link when an unverified account has this address; silent otherwise."""
    user = User.objects.filter(ci_equals("email", normalise_email(email)), is_active=True).first()
    if user is not None and user.email_verified_at is None:
        email_verification_send(user=user)


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Uses up a verification link: confirms the address, or completes an email change.

    A link verifies only the address it was sent to: the account's own, or the pending new one
    (the newest change request); a link for any other address is dead, so an old link cannot
    move the account back to an address it left."""
    secret = secret_consume(raw=token, purpose=VERIFY)
    user = User.objects.select_for_update().get(pk=secret.user_id)
    old_email = user.email
    if not secret.email:
        raise LinkInvalid()  # names no address: nothing it could verify
    if normalise_email(secret.email) != old_email:
        if not _is_pending_change(user=user, secret=secret):
            raise LinkInvalid()  # the transaction rolls back: the link is not used up
        if User.objects.filter(ci_equals("email", secret.email)).exclude(pk=user.pk).exists():
            raise EmailExists()
        user.email = normalise_email(secret.email)
    was_verified = user.email_verified_at is not None
    user.email_verified_at = timezone.now()
    _save_unique(user, update_fields=["email", "email_verified_at", "updated_at"])
    if user.email != old_email:
        # Ids and what changed: the addresses themselves are personal data a receiver can
        # read from the users API; the new one is verified by this very link.
        events.user_event_record("user.email_changed", user=user, actor=user, data=_EMAIL_VERIFIED)
        # Every other link names an address the account no longer has or wants.
        secrets_revoke(user=user, purpose=VERIFY)
        transaction.on_commit(
            lambda: emails.send_email_changed(
                username=user.username, to=old_email, new_email=user.email
            )
        )
    elif not was_verified:
        events.user_update_record(user=user, changed=["email_verified"], actor=user)
    return user


_EMAIL_VERIFIED = {"email_verified": True}


def email_change_request_own(
    *,
    user: User,
    new_email: str,
    request: HttpRequest | None,
    current_password: str | None = None,
    session_id: str | None = None,
) -> None:
    """The user's own email change (the page): after a recent proof (see user_reauthenticate)."""
    user_reauthenticate(
        request=request, user=user, password=current_password, session_id=session_id
    )
    email_change_request(user=user, new_email=new_email)


def email_change_request(
    *,
    user: User,
    new_email: str,
    actor: User | None = None,
    ignore_domain_rules: bool = False,
) -> None:
    """Sends a link to the new address; the account keeps its old one until it is used.

    Every link sent before dies: only the newest request is pending. An administrator
    (``actor``) may make an explicit, recorded exception to the domain rules."""
    new_email = normalise_email(new_email)
    User(username=user.username, email=new_email).clean_fields(exclude=["password", "username"])
    if actor is None:
        email_domain_rules_apply(email=new_email, message=_domain_refusal_message())
    elif _domain_rules_apply_for_admin(email=new_email, actor=actor, ignore=ignore_domain_rules):
        email_domain_override_record(actor=actor, user=user, email=new_email, created=False)
    secrets_revoke(user=user, purpose=VERIFY)
    if User.objects.filter(ci_equals("email", new_email)).exclude(pk=user.pk).exists():
        # Do not tell the requester that the address has an account: tell its owner.
        emails.send_address_in_use(to=new_email)
        return
    email_verification_send(user=user, email=new_email)
    emails.send_email_change_requested(username=user.username, to=user.email, new_email=new_email)


def email_change_pending(*, user: User) -> str:
    """The address waiting for confirmation, or ""."""
    secret = (
        OneTimeToken.objects.filter(user=user, purpose=VERIFY, used_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .exclude(ci_equals("email", user.email))
        .order_by("-created_at")
        .first()
    )
    return secret.email if secret else ""


# -- helpers ---------------------------------------------------------------------------------

# One's own email and one's own deletion are self-service whatever the endpoint: the users API
# asks no password, so on the actor's own account it would let a stolen session (or a token
# with admin.write) move the account to another mailbox or delete it (issue 16, items 2 and 4).
OWN_ACCOUNT_MESSAGE = (
    "Change your own email address or delete your own account through your account "
    "(/api/v1/me/), confirmed with your current password."
)


def _is_self(actor: Any, user: User) -> bool:
    return actor is not None and getattr(actor, "pk", None) == user.pk


def _email_changes(*, user: User, email: str | None) -> bool:
    return email is not None and normalise_email(email) != user.email


def _is_pending_change(*, user: User, secret: OneTimeToken) -> bool:
    """No change to another address was requested after this link was sent."""
    sent_after = Q(created_at__gt=secret.created_at) | Q(
        created_at=secret.created_at, pk__gt=secret.pk
    )
    newer = OneTimeToken.objects.filter(sent_after, user=user, purpose=VERIFY)
    return not newer.exclude(ci_equals("email", user.email)).exists()


def _ensure_free(*, username: str, email: str) -> None:
    # Sign-up's own duplicate check is the one place allowed to say an account exists;
    # its entry points are rate-limited.
    if User.objects.filter(ci_equals("username", username)).exists():
        raise UsernameExists()
    if User.objects.filter(ci_equals("email", email)).exists():
        raise EmailExists()


def _sign_up_with_taken_email(
    *, username: str, email: str, password: str, profile: dict[str, str] | None
) -> None:
    """The same checks and the same password hashing as a real sign-up, then a note to the
    address owner: neither the answer nor its timing tells that the address is taken."""
    candidate = User(username=username, email=email)
    candidate.clean_fields(exclude=["password"])
    _new_profile(profile).full_clean(exclude=["user"])
    _validate_new_password(password, user=candidate, field="password")
    candidate.set_password(password)
    transaction.on_commit(lambda: emails.send_address_in_use(to=email))


def _validate_new_password(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password or "", user=user)
    except ValidationError as error:
        raise ValidationError({field: error.error_list}) from error


def _domain_rules_apply_for_admin(*, email: str, actor: User | None, ignore: bool) -> bool:
    if ignore and actor is None:
        # An exception nobody can be named for is no exception: it could not be audited.
        raise ValueError("ignore_domain_rules needs the administrator (actor) who decides it")
    return email_domain_rules_apply(email=email, message=ADMIN_REFUSAL, ignore=ignore)


def _new_profile(profile: dict[str, str] | None) -> Profile:
    given = profile or {}
    fields = {field: given[field] for field in NEW_ACCOUNT_PROFILE_FIELDS if field in given}
    return Profile(**fields)


@transaction.atomic
def _user_insert(*, user: User, password: str | None, profile: dict[str, str] | None) -> User:
    new_profile = _new_profile(profile)
    # The profile's validators (the phone number's, as the profile edit applies) before any row.
    new_profile.full_clean(exclude=["user"])
    user.set_password(password)
    # The unique indexes decide races; _save_unique turns a lost one into a clear error.
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    _save_unique(user)
    new_profile.user = user
    new_profile.save()
    return user


def _save_unique(user: User, *, update_fields: list[str] | None = None) -> None:
    """Saves, turning a lost race on the case-insensitive unique indexes into a clear error.

    An existing row names its ``update_fields``: a full-row save would write this process's
    stale copy of every other column over a concurrent change (a deactivation reverted)."""
    try:
        with transaction.atomic():
            user.save(update_fields=update_fields)
    except IntegrityError as error:
        if "email" in str(error):
            raise EmailExists() from error
        raise UsernameExists() from error


def _invitation_send(*, user: User) -> None:
    raw, _ = secret_issue(user=user, purpose=RESET, ttl=settings.INVITATION_TTL)
    link = emails.portal_link("accounts:password_reset_confirm", raw)
    emails.send_invitation(username=user.username, to=user.email, link=link)


def _domain_refusal_message() -> str:
    return (
        "Sign-up is not open to addresses at this email domain. "
        "Use an address from a domain your organisation allows."
    )
