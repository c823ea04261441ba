"""The OAuth application model (swapped in for django-oauth-toolkit's), members, consents and
the sign-in records that tie OAuth tokens to a UserSession."""

from __future__ import annotations

import ipaddress
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from jwcrypto import jwk
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from identity.keys import SigningKey, signing_keys
from identity.outbound import receiver_url_refusal

DEFAULT_ALLOWED_SCOPES = "openid profile email"
_jwk_cache: dict[str, jwk.JWK] = {}


def _signing_jwk(key: SigningKey) -> jwk.JWK:
    cached = _jwk_cache.get(key.kid)
    if cached is None:
        cached = _jwk_cache[key.kid] = jwk.JWK.from_pyca(key.private_key)
    return cached


def is_loopback_uri(uri: str) -> bool:
    """http on an IP loopback literal (RFC 8252 §7.3; "localhost" is NOT RECOMMENDED, §8.3)."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _is_private_use_scheme(scheme: str) -> bool:
    # RFC 8252 §7.1: reverse-DNS names such as com.example.app, never a bare word.
    return "." in scheme and scheme not in {"http", "https"}


def backchannel_logout_uri_refusal(uri: str) -> str | None:
    """Why a back-channel logout URI cannot be registered, or None: the portal POSTs to it from
    inside its network, under the rule of every receiver (identity.outbound), which also keeps
    Back-Channel Logout 1.0 §2.2's absolute URI without a fragment."""
    return receiver_url_refusal(uri) if uri else None


class Application(AbstractApplication):
    """A client application. DOT's ``user`` field is its owner."""

    description = models.TextField(max_length=1000, blank=True)
    homepage_url = models.URLField(max_length=500, blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    is_first_party = models.BooleanField(
        default=False, help_text="Set by admins only: users are not asked for consent."
    )
    is_trusted = models.BooleanField(
        default=False,
        help_text="Set by admins only: may be granted the administration scopes "
        "(admin.read, admin.write) and have a service account.",
    )
    restricted = models.BooleanField(
        default=False, help_text="Only members of this application may sign in to it."
    )
    allowed_scopes = models.CharField(
        max_length=500,
        default=DEFAULT_ALLOWED_SCOPES,
        help_text="Space-separated scopes this application may request.",
    )
    # Keycloak's design: a client-credentials token acts as this user, with the roles assigned
    # to it through authz; it has no usable password and signs in through no channel.
    service_account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="service_application",
    )
    # OpenID Connect Back-Channel Logout 1.0 §2.2: where the portal POSTs a logout token when
    # a sign-in of this application ends, and whether the application needs its sid in it.
    backchannel_logout_uri = models.URLField(max_length=2000, blank=True)
    backchannel_logout_session_required = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ApplicationMember",
        related_name="member_of_applications",
        blank=True,
    )

    class Meta(AbstractApplication.Meta):
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="sso_application_owner_name"),
        ]

    @property
    def jwk_key(self) -> jwk.JWK:
        """The portal's active signing key (identity.keys), read per use so rotation applies;
        its RFC 7638 thumbprint is the kid DOT puts in the id_token header."""
        if self.algorithm != AbstractApplication.RS256_ALGORITHM:
            return super().jwk_key
        return _signing_jwk(signing_keys().active)

    def redirect_uri_allowed(self, uri: str) -> bool:
        # DOT's parser raises ValueError on a port out of range or a broken IPv6 host, which
        # /o/authorize turned into a 500 (found by tests/hardening/test_parsers.py).
        try:
            return super().redirect_uri_allowed(uri)
        except ValueError:
            return False

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        try:
            return super().post_logout_redirect_uri_allowed(uri)
        except ValueError:
            return False

    def get_allowed_schemes(self) -> list[str]:
        schemes = list(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
        uris = f"{self.redirect_uris} {self.post_logout_redirect_uris}".split()
        for uri in uris:
            scheme = urlsplit(uri).scheme
            if scheme not in schemes and (is_loopback_uri(uri) or _is_private_use_scheme(scheme)):
                schemes.append(scheme)
        return schemes

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for field in ("redirect_uris", "post_logout_redirect_uris"):
            for uri in getattr(self, field).split():
                if urlsplit(uri).scheme == "http" and not is_loopback_uri(uri):
                    errors.setdefault(field, []).append(
                        f"{uri}: use https; http is allowed only on 127.0.0.1 or [::1] "
                        "(RFC 8252 §7.3)."
                    )
        refusal = backchannel_logout_uri_refusal(self.backchannel_logout_uri)
        if refusal:
            errors["backchannel_logout_uri"] = [refusal]
        unknown = set(self.allowed_scopes.split()) - set(oauth2_settings.SCOPES)
        if unknown:
            errors["allowed_scopes"] = [f"Unknown scopes: {', '.join(sorted(unknown))}."]
        try:
            super().clean()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    @property
    def scope_list(self) -> list[str]:
        return self.allowed_scopes.split()


class ApplicationMember(models.Model):
    """A user allowed to sign in to a restricted application."""

    # db_index=False: the unique (application, user) index serves lookups by application.
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="application_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "user"], name="sso_member_unique"),
        ]

    def __str__(self) -> str:
        return f"member {self.user_id} of {self.application_id}"


class Consent(models.Model):
    """The scopes a user allowed an application; asked again only when the request grows."""

    # db_index=False: the unique (user, application) index serves lookups by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oauth_consents",
        db_index=False,
    )
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="consents")
    scope = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="sso_consent_unique"),
        ]

    def __str__(self) -> str:
        return f"consent of {self.user_id} to {self.application_id}"

    def covers(self, scopes: list[str]) -> bool:
        return set(scopes) <= set(self.scope.split())


class SignIn(models.Model):
    """One OAuth sign-in, created with its authorization code.

    Its id becomes the UserSession id (the ``sid`` claim) and the refresh-token family when
    the code is exchanged, so a session, a family and a browser sign-in are one join apart.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="sign_ins")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_sign_ins"
    )
    grant = models.OneToOneField(
        oauth2_settings.GRANT_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sso_sign_in",
    )
    # The portal browser sign-in that approved the request: end-session ends what it started.
    browser_session = models.ForeignKey(
        "accounts.UserSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    auth_time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="sso_signin_created")]

    def __str__(self) -> str:
        return f"OAuth sign-in {self.pk}"


class ApplicationInvitation(models.Model):
    """An owner's invitation of a login (as typed) to a restricted application.

    Stored whether or not an account matches, so the owner's view of it is the same either way
    (ASVS 5.0 V6.3.8); ``user`` is the matching account, never shown to the owner. Only a
    SHA-256 of the accept link's secret is kept."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # db_index=False: the unique (application, login) index serves lookups by application.
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="invitations", db_index=False
    )
    login = models.CharField(max_length=254)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="application_invitations",
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "login"], name="sso_invitation_unique"),
        ]

    def __str__(self) -> str:
        return f"invitation to {self.application_id}"
