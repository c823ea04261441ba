"""Every state change of single sign-on: applications, secrets, members, consents, revocation."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)

from accounts import services as account_services
from accounts.emails import portal_link
from accounts.models import Channel, User, UserSession
from accounts.selectors import user_get_by_login, user_get_by_public_id
from accounts.services.secrets import hash_token
from accounts.services.service_accounts import service_account_create, service_account_delete
from accounts.services.sessions import (
    SUPERSEDED_REASON,
    UNKNOWN_CHANNEL,
    SignInChange,
    sessions_revoke,
)
from accounts.signin_memory import sid_uuids
from identity.api.scopes import ADMIN_SCOPES
from identity.cache import safe_delete
from identity.events import event_record
from sso import emails
from sso.errors import (
    ApplicationNameTaken,
    InvitationInvalid,
    NotConfidential,
    NotTrusted,
    NotVerified,
    UnknownApplication,
)
from sso.hashers import ClientSecretHasher
from sso.models import (
    Application,
    ApplicationInvitation,
    ApplicationMember,
    Consent,
    SignIn,
    backchannel_logout_uri_refusal,
)
from sso.selectors import APPLICATION_CACHE_PREFIX, access_token_cache_forget, token_checksum

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

logger = logging.getLogger(__name__)
_secret_hasher = ClientSecretHasher()

# 256 bits: far above the 112 bits ASVS 5.0 V6.5.2 asks of secrets stored with a fast hash.
CLIENT_SECRET_BYTES = 32
EDITABLE_FIELDS = (
    "name",
    "description",
    "homepage_url",
    "logo_url",
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_scopes",
    "restricted",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
)


def issuer() -> str:
    """The issuer identifier: discovery, id_tokens and the RFC 9207 iss parameter agree."""
    return settings.PORTAL_URL


def client_secret_generate() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


# -- applications -------------------------------------------------------------------------
def _save(application: Application, *, update_fields: list[str] | None = None) -> None:
    """Validates and saves; an update names its columns, so that the owner's copy of the row
    never writes back flags an administrator changed meanwhile (is_first_party, restricted)."""
    application_name_check(application=application)
    application.full_clean(exclude=["client_secret"])
    application.save(update_fields=update_fields)
    application_cache_forget(application=application)


def application_name_check(*, application: Application) -> None:
    """Raises ApplicationNameTaken when its owner has another application of that name."""
    others = Application.objects.filter(user=application.user_id, name=application.name)
    if others.exclude(pk=application.pk).exists():
        raise ApplicationNameTaken()


def application_cache_forget(*, application: Application) -> None:
    """The token endpoint's cached row (sso.selectors.application_cached) is stale now."""
    safe_delete(APPLICATION_CACHE_PREFIX + application.client_id)


def client_secret_check(*, secret: str, stored: str) -> bool:
    """A client's secret against its stored hash. One verified under a SECRET_KEY_FALLBACKS
    key is re-keyed under SECRET_KEY at once, so a rotated-out key can be dropped once every
    client has authenticated (README, "Rotating SECRET_KEY")."""
    index = _secret_hasher.key_index(secret, stored)
    if index is None:
        return False
    if index > 0:
        _client_secret_rekey(stored=stored, encoded=_secret_hasher.rekey(secret, stored))
    return True


def _client_secret_rekey(*, stored: str, encoded: str) -> None:
    # By the old hash itself: its random salt names one row, and a concurrent re-key or
    # secret rotation makes this a no-op rather than an overwrite.
    rows = Application.objects.filter(client_secret=stored)
    client_ids = list(rows.values_list("client_id", flat=True))
    rows.update(client_secret=encoded, updated=timezone.now())
    for client_id in client_ids:
        safe_delete(APPLICATION_CACHE_PREFIX + client_id)
    logger.info("client secret re-keyed under the current SECRET_KEY")


@transaction.atomic
def application_create(
    *,
    owner: User,
    name: str,
    client_type: str,
    service: bool = False,
    **fields: Any,
) -> tuple[Application, str | None]:
    """A new application and, for a confidential one, its secret (shown once, stored hashed).

    ``service`` registers a confidential machine client (client credentials, no user)."""
    if not owner.email_verified:
        raise NotVerified()
    if "allowed_scopes" in fields:
        fields["allowed_scopes"] = _owner_scopes(Application(), fields["allowed_scopes"])
    confidential = client_type == AbstractApplication.CLIENT_CONFIDENTIAL
    secret = client_secret_generate()
    application = Application(
        user=owner,
        name=name,
        client_type=client_type,
        authorization_grant_type=(
            AbstractApplication.GRANT_CLIENT_CREDENTIALS
            if service and confidential
            else AbstractApplication.GRANT_AUTHORIZATION_CODE
        ),
        algorithm="" if service else AbstractApplication.RS256_ALGORITHM,
        # A public client never uses its secret; an unguessable one makes Basic auth useless.
        client_secret=secret,
        hash_client_secret=True,
        **{key: value for key, value in fields.items() if key in EDITABLE_FIELDS},
    )
    _save(application)
    _application_event(
        "application.created",
        application=application,
        actor=owner,
        data={"name": application.name, "client_type": client_type},
    )
    return application, (secret if confidential else None)


@transaction.atomic
def application_update(
    *, application: Application, actor: User | None = None, **fields: Any
) -> Application:
    if "allowed_scopes" in fields:
        fields["allowed_scopes"] = _owner_scopes(application, fields["allowed_scopes"])
    changed = [key for key in fields if key in EDITABLE_FIELDS]
    differ = [key for key in changed if getattr(application, key) != fields[key]]
    for key in changed:
        setattr(application, key, fields[key])
    _save(application, update_fields=[*changed, "updated"])
    _application_updated(application=application, changed=differ, actor=actor)
    application_non_members_revoke(application=application)
    return application


# What the admin's form writes as it is, besides EDITABLE_FIELDS: the owner (a superuser's
# choice). Trust and first-party go through their services; administration scopes are an
# administrator's to give, so the owner's scope rule (_owner_scopes) does not apply here.
ADMIN_EDITABLE_FIELDS = (*EDITABLE_FIELDS, "user")


@transaction.atomic
def application_update_by_admin(
    *, application: Application, changed: Iterable[str], actor: User | None = None
) -> None:
    """The admin's change form, after its member inline: the columns it changed, trust and
    first-party through their services, and a restricted application keeps only its members
    signed in, as after the owner's change (application_update)."""
    changed = list(changed)
    plain = [name for name in changed if name in ADMIN_EDITABLE_FIELDS]
    if plain:
        # Only these columns: a full-row save would write back, among others, a client secret
        # hash the owner has rotated meanwhile.
        _save(application, update_fields=[*plain, "updated"])
    if "is_first_party" in changed:
        application_first_party_set(
            application=application, is_first_party=application.is_first_party
        )
    if "is_trusted" in changed:
        # Withdrawing trust ends what the application holds under it.
        application_trust_set(
            application=application,
            is_trusted=application.is_trusted,
            admin_scopes=application.scope_list,
        )
    application_non_members_revoke(application=application)
    switches = [name for name in changed if name in ("is_first_party", "is_trusted")]
    _application_updated(application=application, changed=[*plain, *switches], actor=actor)


def _application_updated(*, application: Application, changed: list[str], actor: Any) -> None:
    """application.updated naming the fields changed (a rotated secret by its name only)."""
    names = sorted({"owner" if name == "user" else name for name in changed})
    if names:
        _application_event(
            "application.updated", application=application, actor=actor, data={"changed": names}
        )


def _application_event(
    type: str, *, application: Application, actor: Any, data: dict[str, Any]
) -> None:
    # subject: the owner's account, whose application it is.
    event_record(
        type,
        data=data,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        subject=application.user,
        client_id=application.client_id,
    )


def application_non_members_revoke(*, application: Application) -> None:
    """Only members may stay signed in to a restricted application; others' sign-ins end."""
    if not application.restricted:
        return
    outsiders = SignIn.objects.filter(application=application).exclude(
        user__in=application.memberships.values("user")
    )
    sign_ins_revoke(sids=[str(pk) for pk in outsiders.values_list("pk", flat=True)], reason="app")


def _owner_scopes(application: Application, requested: str) -> str:
    """Owners choose every scope but the administration ones, which only an administrator
    grants (application_trust_set): those the application holds stay, new ones are refused."""
    held = ADMIN_SCOPES & set(application.scope_list)
    wanted = requested.split()
    if (ADMIN_SCOPES & set(wanted)) - held:
        raise ValidationError(
            {"allowed_scopes": ["Only an administrator grants the administration scopes."]}
        )
    return " ".join([scope for scope in wanted if scope not in ADMIN_SCOPES] + sorted(held))


@transaction.atomic
def application_trust_set(
    *, application: Application, is_trusted: bool, admin_scopes: Iterable[str] = ADMIN_SCOPES
) -> None:
    """Admins only (sso.admin). Trusting lets the application hold ``admin_scopes``; withdrawing
    trust drops them and ends every sign-in and token it holds, so nothing issued under the
    trust outlives it."""
    scopes = [scope for scope in application.scope_list if scope not in ADMIN_SCOPES]
    if is_trusted:
        scopes += sorted(ADMIN_SCOPES & set(admin_scopes))
    application.is_trusted = is_trusted
    application.allowed_scopes = " ".join(scopes)
    application.save(update_fields=["is_trusted", "allowed_scopes", "updated"])
    application_cache_forget(application=application)
    if not is_trusted:
        application_tokens_revoke(application=application, reason="app_untrusted")


def application_tokens_revoke(*, application: Application, reason: str) -> None:
    """Every OAuth sign-in of the application, and its client-credentials tokens."""
    sids = SignIn.objects.filter(application=application).values_list("pk", flat=True)
    sign_ins_revoke(sids=[str(pk) for pk in sids], reason=reason)
    own = AccessToken.objects.filter(application=application, user__isnull=True)
    _token_cache_forget(own)
    own.delete()


@transaction.atomic
def application_service_account_create(*, application: Application) -> User:
    """Admins only: the user a trusted service's client-credentials tokens act as. Roles are
    assigned to it through authz like to anyone; it signs in through no channel."""
    if (
        not application.is_trusted
        or application.client_type != AbstractApplication.CLIENT_CONFIDENTIAL
        or application.authorization_grant_type != AbstractApplication.GRANT_CLIENT_CREDENTIALS
    ):
        raise NotTrusted()
    if application.service_account is not None:
        return application.service_account
    account = service_account_create(name=application.client_id)
    application.service_account = account
    application.save(update_fields=["service_account", "updated"])
    application_cache_forget(application=application)
    return account


def application_first_party_set(*, application: Application, is_first_party: bool) -> None:
    """Admins only (sso.admin): a first-party application is never asked for consent."""
    Application.objects.filter(pk=application.pk).update(
        is_first_party=is_first_party, updated=timezone.now()
    )
    application.is_first_party = is_first_party
    application_cache_forget(application=application)


@transaction.atomic
def application_secret_rotate(*, application: Application, actor: User | None = None) -> str:
    if application.client_type != AbstractApplication.CLIENT_CONFIDENTIAL:
        raise NotConfidential()
    secret = client_secret_generate()
    application.client_secret = secret  # ClientSecretField hashes it on save
    application.save(update_fields=["client_secret", "updated"])
    _application_updated(application=application, changed=["client_secret"], actor=actor)
    # The old secret must stop working now, in this process and (shared cache) every other.
    transaction.on_commit(lambda: application_cache_forget(application=application))
    application_cache_forget(application=application)
    return secret


@transaction.atomic
def application_delete(*, application: Application, actor: User | None = None) -> None:
    """Revokes every sign-in, grant and token of the application; user accounts stay."""
    _application_event(
        "application.deleted", application=application, actor=actor, data={"name": application.name}
    )
    sids = [
        str(pk)
        for pk in SignIn.objects.filter(application=application).values_list("pk", flat=True)
    ]
    sign_ins_revoke(sids=sids, reason="app_deleted")
    _token_cache_forget(AccessToken.objects.filter(application=application))
    account = application.service_account
    application.delete()  # grants, tokens, consents, members and sign-ins cascade
    if account is not None:
        service_account_delete(user=account)
    application_cache_forget(application=application)


# -- members ------------------------------------------------------------------------------
def application_member_add(*, application: Application, user: User) -> ApplicationMember:
    """Also called by sign-up through an application (user_sign_up_through_application)."""
    member, _ = ApplicationMember.objects.get_or_create(application=application, user=user)
    return member


@transaction.atomic
def application_member_invite(
    *, application: Application, login: str, invited_by: User | None, by_public_id: bool = False
) -> ApplicationInvitation:
    """The owner's "add a member" by username or email: an invitation stored for whatever was
    typed, whether or not an account matches, so the owner learns nothing about an account
    until its holder accepts (ASVS 5.0 V6.3.8). Only a matching account is mailed a link; an
    address without an account is never written to. Inviting again renews the invitation."""
    login = login.strip()
    if "@" in login:
        login = login.lower()
    user = _invitable(
        user_get_by_public_id(public_id=login) if by_public_id else user_get_by_login(login=login)
    )
    raw = secrets.token_urlsafe(32) if user is not None else None
    invitation, _ = ApplicationInvitation.objects.update_or_create(
        application=application,
        login=login,
        defaults={
            "invited_by": invited_by,
            "user": user,
            "token_hash": hash_token(raw) if raw else None,
            "expires_at": timezone.now() + settings.INVITATION_TTL,
        },
    )
    if user is not None and raw is not None:
        link = portal_link("sso:invitation_accept", raw)
        emails.send_application_invitation(application=application, user=user, link=link)
    return invitation


def _invitable(user: User | None) -> User | None:
    """Only an active person with a proven address is mailed; anyone else is treated like no
    account, so an invitation never writes to a mailbox nobody showed is theirs."""
    if user is None or not user.is_active or user.is_service_account:
        return None
    return user if user.email_verified_at is not None else None


def application_invitation_withdraw(*, application: Application, public_id: str) -> None:
    """The same for every invitation: known or unknown account, the row simply goes."""
    try:
        ApplicationInvitation.objects.filter(application=application, public_id=public_id).delete()
    except ValidationError:  # not a UUID: nothing to withdraw
        return


def application_invitation_get(*, raw: str, user: User) -> ApplicationInvitation:
    """The live invitation of a link, for the account it was sent to only; any other case is
    the same InvitationInvalid, so a link reveals nothing to whoever holds it."""
    invitation = (
        ApplicationInvitation.objects.select_related("application", "application__user")
        .filter(token_hash=hash_token(raw or ""), user=user, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None or not user.is_active:
        raise InvitationInvalid()
    return invitation


@transaction.atomic
def application_invitation_accept(*, raw: str, user: User) -> Application:
    """Makes the invited account a member and uses the invitation up; of two racing accepts
    exactly one deletes the row."""
    invitation = application_invitation_get(raw=raw, user=user)
    deleted, _ = ApplicationInvitation.objects.filter(
        pk=invitation.pk, expires_at__gt=timezone.now()
    ).delete()
    if not deleted:
        raise InvitationInvalid()
    application_member_add(application=invitation.application, user=user)
    return invitation.application


@transaction.atomic
def user_sign_up_through_application(
    *,
    username: str,
    email: str,
    password: str,
    client_id: str | None = None,
    profile: dict[str, str] | None = None,
) -> User:
    """Sign-up (accounts.services.user_sign_up); through an unrestricted application, the new
    user is also its member. An unknown client_id is refused before any account is created.

    A restricted application admits only the members its owner adds: its client_id is public
    (every authorization URL carries it), so naming it at sign-up grants nothing."""
    application = None
    if client_id is not None:
        application = Application.objects.filter(client_id=client_id).first()
        if application is None:
            raise UnknownApplication()
    user = account_services.user_sign_up(
        username=username, email=email, password=password, profile=profile
    )
    if application is not None and not application.restricted:
        application_member_add(application=application, user=user)
    return user


@transaction.atomic
def application_member_remove(*, application: Application, user: User) -> None:
    ApplicationMember.objects.filter(application=application, user=user).delete()
    if application.restricted:
        connected_app_revoke(user=user, application=application)


def application_user_may_sign_in(*, application: Application, user: Any) -> bool:
    if not application.restricted:
        return True
    return ApplicationMember.objects.filter(application=application, user=user).exists()


# -- the demo relying party (sso.demo_client) ---------------------------------------------
DEMO_CLIENT_NAME = "Demo client"
DEMO_OWNER_USERNAME = "demo-owner"


@transaction.atomic
def demo_client_register(*, base_url: str) -> Application:
    """The demo relying party: a public PKCE client owned by a demo-owner account, created on
    the first run and reused after; its URIs follow ``base_url`` (http on 127.0.0.1 is allowed
    for loopback clients, RFC 8252 §7.3). Its back-channel logout URI is registered where the
    portal may call loopback (WEBHOOK_ALLOW_PRIVATE, on in development), left blank elsewhere."""
    owner = User.objects.filter(username__iexact=DEMO_OWNER_USERNAME).first()
    if owner is None:
        owner = account_services.user_create(
            username=DEMO_OWNER_USERNAME,
            email="demo-owner@example.com",
            password=secrets.token_urlsafe(24),  # nobody signs in as the owner
            email_verified=True,
        )
    fields = {
        "description": "The demo relying party started by `make demo-client`.",
        "redirect_uris": f"{base_url}/callback",
        "post_logout_redirect_uris": f"{base_url}/",
        "allowed_scopes": "openid profile email roles",
        "backchannel_logout_uri": "",
        "backchannel_logout_session_required": True,
    }
    if backchannel_logout_uri_refusal(f"{base_url}/backchannel-logout") is None:
        fields["backchannel_logout_uri"] = f"{base_url}/backchannel-logout"
    application = Application.objects.filter(user=owner, name=DEMO_CLIENT_NAME).first()
    if application is None:
        application, _ = application_create(
            owner=owner,
            name=DEMO_CLIENT_NAME,
            client_type=AbstractApplication.CLIENT_PUBLIC,
            **fields,
        )
    elif any(getattr(application, key) != value for key, value in fields.items()):
        application = application_update(application=application, **fields)
    return application


# -- consent ------------------------------------------------------------------------------
def consent_grant(*, user: User, application: Application, scopes: list[str]) -> Consent:
    """Remembers the scopes allowed; the union, so that a narrower request asks nothing."""
    consent, created = Consent.objects.get_or_create(
        user=user, application=application, defaults={"scope": " ".join(sorted(set(scopes)))}
    )
    if not created and not consent.covers(scopes):
        consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scopes)))
        consent.save(update_fields=["scope", "updated_at"])
    return consent


def consent_withdraw(*, consent: Consent) -> None:
    """An administrator withdraws a remembered consent: the next authorization asks again.
    Tokens already issued stay (connected_app_revoke is the user's cut-off)."""
    consent.delete()


@transaction.atomic
def connected_app_revoke(*, user: User, application: Application) -> None:
    """The user cuts the application off: consent, codes and every token of theirs die."""
    Consent.objects.filter(user=user, application=application).delete()
    sids = SignIn.objects.filter(user=user, application=application).values_list("pk", flat=True)
    sign_ins_revoke(sids=[str(pk) for pk in sids], reason="app_disconnected")
    Grant.objects.filter(user=user, application=application).delete()
    tokens = AccessToken.objects.filter(user=user, application=application)
    _token_cache_forget(tokens)
    RefreshToken.objects.filter(user=user, application=application, revoked__isnull=True).update(
        revoked=timezone.now(), access_token=None
    )
    tokens.delete()


# -- revocation ---------------------------------------------------------------------------
def sign_ins_revoke(*, sids: list[str], reason: str) -> None:
    """Ends OAuth sign-ins: accounts ends their UserSessions (accounts.services.sessions, the
    only writer of sessions) and its publisher calls sign_ins_changed below, which ends their
    refresh-token families and access tokens."""
    sessions_revoke(sids=sids, reason=reason)


def sign_ins_changed(change: SignInChange) -> None:
    """sso's listener on the sign-in publisher (connected in SsoConfig.ready): what sso holds
    of an ended sign-in is its OAuth tokens and their cache entries, and of an ended browser
    sign-in the OAuth sign-ins it approved (one query; they end too). API sign-ins hold no
    OAuth token and cost nothing here; a changed user needs nothing either, since every cached
    OAuth token re-checks its sid on use (ResolvedAccessToken.is_live) and a change that must
    cut a user off ends their sign-ins."""
    sids = change.sids_maybe_on(Channel.OAUTH)
    if sids:
        sign_in_tokens_end(sids=sids)
    browser = [sid for sid, on in change.ended.items() if on in BROWSER_CHANNELS]
    if browser and change.reason not in BROWSER_END_KEEPS_APPROVED:
        sign_ins_end_approved_by(browser_sids=browser, reason=change.reason or "browser_ended")


# A portal browser sign-in (the Django admin's too) may have approved OAuth sign-ins.
BROWSER_CHANNELS = frozenset({Channel.BROWSER, Channel.ADMIN, UNKNOWN_CHANNEL})
# Signing in again in the same browser (re-authentication for prompt=login or max_age, or a
# step-up) replaces its sign-in row; the applications it approved stay signed in.
BROWSER_END_KEEPS_APPROVED = frozenset({SUPERSEDED_REASON})


def sign_ins_end_approved_by(*, browser_sids: list[str], reason: str) -> None:
    """The one rule for every way a portal browser sign-in ends (signing out, revoking it on
    the sessions page, an admin, a password change): the OAuth sign-ins it approved end with
    it, as a Keycloak client session ends with its SSO session, and their applications are
    told (back-channel logout). One query when it approved none."""
    ids = sid_uuids(browser_sids)
    approved = SignIn.objects.filter(browser_session_id__in=ids).values("pk")
    live = UserSession.objects.filter(pk__in=approved, revoked_at__isnull=True)
    sids = [str(pk) for pk in live.values_list("pk", flat=True)]
    if sids:
        sign_ins_revoke(sids=sids, reason=reason)


def sign_in_tokens_end(*, sids: list[str]) -> None:
    """The refresh-token families of these sign-ins (a family's id is its sign-in's sid) and
    their access tokens end, and leave the token cache.

    Set-based whatever the family size (django-oauth-toolkit #1809): one SELECT of the live
    access tokens, one UPDATE of the refresh tokens, one DELETE of the access tokens."""
    now = timezone.now()
    family = RefreshToken.objects.filter(token_family__in=sids)
    access = list(
        family.exclude(access_token=None).values_list(
            "access_token_id", "access_token__token_checksum"
        )
    )
    # One UPDATE: live members are revoked now, and nobody points at the tokens deleted next.
    family.update(revoked=Coalesce(F("revoked"), Value(now)), updated=now, access_token=None)
    if access:
        AccessToken.objects.filter(pk__in=[pk for pk, _ in access])._raw_delete(
            AccessToken.objects.db
        )
        access_token_cache_forget(checksums=[checksum for _, checksum in access])


def token_revoke(*, raw_token: str, application_id: int) -> None:
    """RFC 7009 for one client: its own access or refresh token ends the whole sign-in."""
    checksum = token_checksum(raw_token)
    own = Q(token_checksum=checksum, application_id=application_id)
    access = AccessToken.objects.select_related("refresh_token").filter(own).first()
    access_token_cache_forget(checksums=[checksum])
    if access is not None:
        refresh = getattr(access, "refresh_token", None)
        if refresh is not None and refresh.token_family:
            sign_ins_revoke(sids=[str(refresh.token_family)], reason="client_revoked")
        else:
            access.delete()
        return
    refresh = RefreshToken.objects.filter(own).order_by("-created").first()
    if refresh is None:
        return
    if refresh.token_family:
        sign_ins_revoke(sids=[str(refresh.token_family)], reason="client_revoked")
    else:
        refresh.revoke()


@transaction.atomic
def oauth_tokens_revoke_by_admin(
    *, access_token_ids: Iterable[int] = (), refresh_token_ids: Iterable[int] = ()
) -> None:
    """An administrator revokes OAuth tokens (sso.admin): a token of a sign-in ends that whole
    sign-in, as the client's own revocation does (token_revoke); a token of no sign-in (client
    credentials) goes, and leaves the token cache too."""
    access_ids, refresh_ids = list(access_token_ids), list(refresh_token_ids)
    minted_by = AccessToken.objects.filter(pk__in=access_ids).values("source_refresh_token")
    related = RefreshToken.objects.filter(
        Q(pk__in=refresh_ids) | Q(access_token_id__in=access_ids) | Q(pk__in=minted_by)
    )
    families = related.exclude(token_family=None).values_list("token_family", flat=True)
    sign_ins_revoke(sids=sorted({str(family) for family in families}), reason="revoked_by_admin")
    loose = RefreshToken.objects.filter(pk__in=refresh_ids, token_family=None)
    bound = [token.access_token_id for token in loose if token.access_token_id is not None]
    own = AccessToken.objects.filter(pk__in=[*access_ids, *bound])
    _token_cache_forget(own)
    loose.filter(revoked__isnull=True).update(
        revoked=timezone.now(), updated=timezone.now(), access_token=None
    )
    own.delete()


def sign_ins_end_for_browser(
    *, user: User, browser_session_id: str | None, sid: str | None = None
) -> None:
    """RP-initiated logout: the sign-ins this browser session approved, and the RP's own;
    only ``user``'s, whatever sid a hint named."""
    sign_ins = SignIn.objects.none()
    if browser_session_id:
        sign_ins = SignIn.objects.filter(browser_session_id=browser_session_id)
    sids = {str(pk) for pk in sign_ins.values_list("pk", flat=True)}
    if sid:
        sids.add(sid)
    live = UserSession.objects.filter(pk__in=sids, user=user, revoked_at__isnull=True)
    sign_ins_revoke(
        sids=[str(pk) for pk in live.values_list("pk", flat=True)], reason="end_session"
    )


def _token_cache_forget(tokens: Any) -> None:
    access_token_cache_forget(checksums=tokens.values_list("token_checksum", flat=True))


def sign_ins_purge(*, batch_size: int = 1000) -> int:
    """Drops sign-in rows whose code is gone (DOT's cleartokens deletes expired and consumed
    codes) and whose session is no longer live: never exchanged, or expired. One short DELETE
    per batch, so a large backlog never holds long locks."""
    deleted = 0
    while True:
        stale = SignIn.objects.filter(grant__isnull=True).exclude(
            pk__in=UserSession.objects.filter(expires_at__gt=timezone.now()).values("pk")
        )
        batch = list(stale.order_by("created_at").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        count, _ = SignIn.objects.filter(pk__in=batch).delete()
        deleted += count
