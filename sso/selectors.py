"""Reads shared by the OAuth endpoints, the pages, the API and the admin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from accounts.models import User, UserSession
from accounts.services.mfa import METHOD_WEBAUTHN, user_factor_methods
from accounts.services.mfa.amr import ACR_PASSWORD, ACR_PHISHING_RESISTANT, ACR_VALUES
from accounts.services.sessions import sid_is_revoked
from authz.selectors import acts_unbounded, user_has_permission
from identity.cache import safe_delete_many, safe_get, safe_set
from identity.hashing import sha256_hex
from sso.models import Application, ApplicationInvitation, ApplicationMember, Consent

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
TOKEN_CACHE_PREFIX = "sso-at:"  # noqa: S105 - a cache key prefix


def token_checksum(raw_token: str) -> str:
    """DOT's lookup key: tokens are stored hashed (RFC 9700 §4.14 / TOKEN_STORAGE)."""
    return sha256_hex(raw_token)  # the full hex digest: DOT stores and looks up exactly this


@dataclass(frozen=True)
class ResolvedAccessToken:
    pk: int
    checksum: str
    user: User | None
    application_id: int | None
    client_id: str | None
    scope: str
    expires: datetime
    created: datetime
    sid: str | None
    # Whether an administrator trusts the application now: admin scopes count only then.
    application_trusted: bool = False
    # A client-credentials token (user None) acts as its trusted application's service account.
    service_account: User | None = None

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())

    def get(self, key: str, default: object = None) -> object:
        """Claims-like access (``request.auth.get("sid")``), as for first-party tokens."""
        return {"sid": self.sid, "scope": self.scope}.get(key, default)

    def is_live(self) -> bool:
        return self.expires > timezone.now() and not (self.sid and sid_is_revoked(self.sid))


def _session_live(now: datetime) -> Exists:
    return Exists(
        UserSession.objects.filter(
            pk=OuterRef("refresh_token__token_family"), revoked_at__isnull=True, expires_at__gt=now
        )
    )


def access_token_resolve(*, raw_token: str) -> ResolvedAccessToken | None:
    """A live access token: from the cache (no query) or with one query, then cached for
    OAUTH_TOKEN_CACHE_SECONDS. Revocation deletes the entry or publishes the revoked sid."""
    checksum = token_checksum(raw_token)
    key = TOKEN_CACHE_PREFIX + checksum
    resolved = safe_get(key) or None  # CACHE_DOWN: one query, as on a miss
    if resolved is None:
        resolved = _access_token_load(checksum)
        if resolved is None:
            return None
        remaining = int((resolved.expires - timezone.now()).total_seconds())
        safe_set(key, resolved, timeout=max(1, min(settings.OAUTH_TOKEN_CACHE_SECONDS, remaining)))
    return resolved if resolved.is_live() else None


def access_token_cache_forget(*, checksums: Iterable[str]) -> None:
    """Drops cached access tokens (access_token_resolve): revocation, rotation, deletion."""
    keys = [TOKEN_CACHE_PREFIX + checksum for checksum in checksums]
    if keys:
        safe_delete_many(keys)


def _access_token_load(checksum: str) -> ResolvedAccessToken | None:
    now = timezone.now()
    token = (
        AccessToken.objects.select_related(
            "user", "user__profile", "application__service_account", "refresh_token"
        )
        .annotate(session_live=_session_live(now))
        .filter(token_checksum=checksum, expires__gt=now)
        .first()
    )
    if token is None:
        return None
    refresh = getattr(token, "refresh_token", None)
    sid = str(refresh.token_family) if refresh and refresh.token_family else None
    if sid and not token.session_live:
        return None
    if token.user is not None and not token.user.is_active:
        return None
    application = token.application
    return ResolvedAccessToken(
        pk=token.pk,
        checksum=checksum,
        user=token.user,
        application_id=token.application_id,
        client_id=application.client_id if application else None,
        scope=token.scope,
        expires=token.expires,
        created=token.created,
        sid=sid,
        application_trusted=bool(application and application.is_trusted),
        service_account=_service_account(token) if token.user is None else None,
    )


def _service_account(token: AccessToken) -> User | None:
    """Only a trusted application's active service account: withdrawing trust or
    deactivating the account ends what its tokens may do."""
    application = token.application
    if application is None or not application.is_trusted:
        return None
    account = application.service_account
    return account if account is not None and account.is_active else None


APPLICATION_CACHE_PREFIX = "sso-app:"
# The token endpoint looks its client up on every request; services forget the entry when the
# application changes (secret rotated, URIs or flags edited, deleted). With a per-process
# cache (locmem) another process may keep the old row this long at most.
APPLICATION_CACHE_SECONDS = 5


def application_cached(*, client_id: str) -> Application | None:
    found = safe_get(APPLICATION_CACHE_PREFIX + client_id)
    return found if isinstance(found, Application) else None


def application_cache_put(*, application: Application) -> None:
    safe_set(
        APPLICATION_CACHE_PREFIX + application.client_id,
        application,
        timeout=APPLICATION_CACHE_SECONDS,
    )


def application_get(*, client_id: str) -> Application | None:
    return Application.objects.select_related("user").filter(client_id=client_id).first()


def application_list(*, user: User) -> QuerySet[Application]:
    """The owner's own applications; for holders of apps.manage, every application they may
    manage (application_can_manage)."""
    apps = Application.objects.select_related("user").order_by("name", "pk")
    if not user_has_permission(user=user, code="apps.manage"):
        return apps.filter(user=user)
    if acts_unbounded(user):
        return apps
    return apps.filter(Q(user=user) | _BELOW_ANY_MANAGER)


# What apps.manage covers: applications that hold nothing beyond their users' own sign-ins.
# A trusted application holds the admin scopes for everyone who signs in through it (a
# superuser too), and one with a service account acts with that account's roles: whoever
# edits its redirect URIs or rotates its secret acts with them, so only its owner or a
# superuser may (issue 16, items 1 and 2: nobody acts above what they hold).
_BELOW_ANY_MANAGER = Q(is_trusted=False, service_account__isnull=True)


def application_can_manage(*, user: User, application: Application) -> bool:
    if application.user_id == user.pk:
        return True
    if not user_has_permission(user=user, code="apps.manage"):
        return False
    below = not application.is_trusted and application.service_account_id is None
    return below or acts_unbounded(user)


def application_member_list(*, application: Application) -> QuerySet[ApplicationMember]:
    return application.memberships.select_related("user").order_by("user__username")


def application_invitation_list(*, application: Application) -> QuerySet[ApplicationInvitation]:
    """Pending invitations by what the owner typed; the matched account is never read here."""
    return application.invitations.only("public_id", "login", "created_at", "expires_at").order_by(
        "login"
    )


def application_is_member(*, application: Application, user: User) -> bool:
    return ApplicationMember.objects.filter(application=application, user=user).exists()


def consent_get(*, user: User, application: Application) -> Consent | None:
    return Consent.objects.filter(user=user, application=application).first()


def connected_app_list(*, user: User) -> QuerySet[Consent]:
    """Applications the user authorized, with the scopes and when a token was last issued."""
    last_token = (
        RefreshToken.objects.filter(user=user, application=OuterRef("application"))
        .order_by()
        .values("application")
        .annotate(last=Max("created"))
        .values("last")
    )
    return (
        Consent.objects.filter(user=user)
        .select_related("application", "application__user")
        .annotate(last_used_at=Coalesce(Subquery(last_token), "updated_at"))
        .order_by("-last_used_at")
    )


def oauth_session_ids(
    *, application: Application | None = None, user: User | None = None
) -> list[str]:
    """Ids of the live OAuth sign-ins (UserSession rows) of an application and/or a user."""
    from sso.models import SignIn

    sign_ins = SignIn.objects.all()
    if application is not None:
        sign_ins = sign_ins.filter(application=application)
    if user is not None:
        sign_ins = sign_ins.filter(user=user)
    return [
        str(pk)
        for pk in UserSession.objects.filter(
            Q(pk__in=sign_ins.values("id")), revoked_at__isnull=True
        ).values_list("pk", flat=True)
    ]


def member_user_get(*, application: Application, public_id: str) -> User | None:
    try:
        return User.objects.filter(
            application_memberships__application=application, public_id=public_id
        ).first()
    except (ValueError, ValidationError):
        return None


# -- step-up (OIDC Core §3.1.2.1 acr_values) -----------------------------------------------
def acr_requested(*, acr_values: str | None) -> str | None:
    """The strongest supported value of a space-separated ``acr_values``; unknown values are
    ignored (they are voluntary claims, OIDC Core §5.5.1.1), so none known asks nothing."""
    asked = [value for value in (acr_values or "").split() if value in ACR_VALUES]
    return max(asked, key=ACR_VALUES.index, default=None)


def user_may_reach_acr(*, user: User, acr: str) -> bool:
    """Whether ``user`` has a factor that can raise a sign-in to ``acr``: a passkey for
    ``phr``, any second factor for ``mfa``; a password always gives ``pwd``."""
    methods = user_factor_methods(user=user)
    if acr == ACR_PHISHING_RESISTANT:
        return METHOD_WEBAUTHN in methods
    return acr == ACR_PASSWORD or bool(methods)
