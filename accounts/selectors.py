"""Read queries on accounts reused by pages, API and admin."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import signin_memory
from accounts.models import (
    EmailDomainRule,
    LoginEvent,
    Passkey,
    RecoveryCode,
    TotpDevice,
    User,
    UserSession,
    ci_equals,
)
from identity.postgres.statements import Select, fast_path, select_statement


def user_get_by_login(*, login: str) -> User | None:
    """The user whose username, or email when ``login`` has an "@", equals it ignoring case."""
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    column = "email" if "@" in login else "username"
    return User.objects.filter(ci_equals(column, login)).select_related("profile").first()


def user_get_by_public_id(*, public_id: str) -> User | None:
    """The active user with this public id, or None (also for a malformed id)."""
    try:
        return User.objects.filter(public_id=public_id, is_active=True).first()
    except (ValueError, ValidationError):
        return None


def user_password_change_pending(*, user: object) -> bool:
    """The one rule of the forced password change: an account flagged ``must_change_password``
    may do nothing but choose a new password, on any channel (pages, REST API, first-party and
    OAuth tokens). Every channel's entry asks this, whoever set the flag and however."""
    return bool(getattr(user, "must_change_password", False))


def email_domain_allowed(*, email: str) -> bool:
    """Block rules win; when any allow rule exists, only allowed domains may register.

    A rule for ``example.com`` also covers its subdomains (``mail.example.com``).
    """
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    if not domain:
        return False
    parts = domain.split(".")
    candidates = [".".join(parts[i:]) for i in range(len(parts))]
    rules = list(
        EmailDomainRule.objects.values_list("domain", "action").filter(domain__in=candidates)
    )
    if any(action == EmailDomainRule.Action.BLOCK for _, action in rules):
        return False
    if any(action == EmailDomainRule.Action.ALLOW for _, action in rules):
        return True
    return not EmailDomainRule.objects.filter(action=EmailDomainRule.Action.ALLOW).exists()


def email_domain_rule_get(*, pk: int) -> EmailDomainRule | None:
    return EmailDomainRule.objects.filter(pk=pk).first()


USER_ORDERINGS = ("username", "-username", "email", "-email", "date_joined", "-date_joined")


def user_list(
    *,
    search: str = "",
    user_type: str | None = None,
    is_active: bool | None = None,
    ordering: str = "username",
) -> QuerySet[User]:
    """Users for administrators: ``search`` is a case-insensitive username or email prefix."""
    users = with_last_login(User.objects.select_related("profile"))
    if search:
        # lower(col) LIKE 'prefix%' is what the pattern-ops indexes of migration 0003 serve;
        # Django's istartswith (UPPER(col) LIKE UPPER(...)) would scan the whole table.
        prefix = search.lower()
        users = users.alias(username_lower=Lower("username"), email_lower=Lower("email")).filter(
            Q(username_lower__startswith=prefix) | Q(email_lower__startswith=prefix)
        )
    if user_type:
        users = users.filter(user_type=user_type)
    if is_active is not None:
        users = users.filter(is_active=is_active)
    # The id breaks ties so that pages never overlap.
    return users.order_by(ordering if ordering in USER_ORDERINGS else "username", "id")


def with_last_login(users: QuerySet[User]) -> QuerySet[User]:
    """Annotates each user's newest sign-in time (on any channel) as ``last_login``."""
    newest = UserSession.objects.filter(user=OuterRef("pk")).order_by("-created_at")
    return users.annotate(last_login=Subquery(newest.values("created_at")[:1]))


def user_get_for_admin(*, public_id: uuid.UUID | str) -> User | None:
    """Any user, active or not, with this public id (None also for a malformed id)."""
    try:
        users = with_last_login(User.objects.select_related("profile"))
        return users.filter(public_id=public_id).first()
    except (ValueError, ValidationError):
        return None


def user_sessions_live(*, user: User) -> QuerySet[UserSession]:
    """The user's sign-ins that still work, newest first (one query, whatever the count)."""
    return UserSession.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-last_seen_at", "-created_at")


def login_history_list(*, user: User) -> QuerySet[LoginEvent]:
    """The user's sign-in attempts, newest first; served by the (user, created_at) index."""
    return LoginEvent.objects.filter(user=user).order_by("-created_at", "-id")


def user_get_for_access_token(*, public_id: uuid.UUID, sid: uuid.UUID) -> tuple[User | None, bool]:
    """The user a verified access token names, and whether its sign-in ``sid`` is still live.

    At most one query: the user row and the revocation state come from the database itself,
    so a revoked sign-in is refused by every process at once, with or without the cache; and
    each process remembers the answer until told it changed (accounts.signin_memory), so a
    token used again costs none. On Postgres the SQL is built once from the model's own fields
    (identity.postgres.statements), because compiling the equivalent queryset costs more than
    the database round trip; other databases take that queryset.
    """
    alias = router.db_for_read(User)
    statement = _user_for_token_statement(alias)
    remembered = signin_memory.recall(public_id, sid)
    if remembered is not None:
        row, live = remembered.row, remembered.live
    else:
        since = signin_memory.generation()
        if fast_path(connections[alias]):
            found = statement.row([sid, public_id])
        else:
            found = _user_for_token_orm(public_id=public_id, sid=sid)
        if found is None:
            return None, False
        row, live = tuple(found[:-1]), bool(found[-1])
        signin_memory.remember(
            public_id, sid, user_pk=row[_PK_INDEX], row=row, live=live, since=since
        )
    # Built without Model.__init__ (a tenth of a remembered-token request); the values are all
    # immutable, so instances built from one remembered row share nothing mutable.
    return statement.instances(row)[0], live


@functools.cache
def _user_for_token_statement(alias: str) -> Select:
    return select_statement(
        User,
        "u",
        extra=(
            "EXISTS (SELECT 1 FROM {s} WHERE {s.id} = %s"
            " AND {s.user_id} = {u.id} AND {s.revoked_at} IS NULL)",
        ),
        tables=(("s", UserSession),),
        where="{u.public_id} = %s",
        using=alias,
    )


def _user_for_token_orm(*, public_id: uuid.UUID, sid: uuid.UUID) -> tuple | None:
    """The statement's row through the ORM: the user's columns, then whether ``sid`` is live."""
    live = UserSession.objects.filter(pk=sid, user=OuterRef("pk"), revoked_at__isnull=True)
    users = User.objects.filter(public_id=public_id).annotate(sid_live=Exists(live))
    return users.values_list(*_USER_ATTNAMES, "sid_live").first()


_USER_ATTNAMES = [f.attname for f in User._meta.concrete_fields]
_PK_INDEX = _USER_ATTNAMES.index(User._meta.pk.attname)


@dataclass(frozen=True)
class Factors:
    """What a user has to prove a second factor with; never a secret."""

    totp: TotpDevice | None  # confirmed authenticator app
    passkeys: list[Passkey]
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return self.totp is not None or bool(self.passkeys)


def user_factors(*, user: User) -> Factors:
    return Factors(
        totp=TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first(),
        passkeys=list(Passkey.objects.filter(user=user).order_by("created_at")),
        recovery_codes_left=RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
    )


def totp_last_used_at(device: TotpDevice | None) -> datetime | None:
    """When the app last proved a sign-in or a change; the code that confirmed it is not a use."""
    if device is None or device.last_used_at is None or device.confirmed_at is None:
        return None
    return device.last_used_at if device.last_used_at > device.confirmed_at else None
