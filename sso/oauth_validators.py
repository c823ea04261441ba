"""django-oauth-toolkit's request validator, adapted to the portal.

- client secrets verify with the fast keyed hasher (sso.hashers), never the password hasher;
- PKCE is S256 only, and an authorization code is consumed atomically once every check passed;
  presenting it again revokes what it issued (RFC 6749 §4.1.2);
- every code exchange starts a UserSession (channel oauth, through
  accounts.services.sessions.session_start) whose id is the ``sid`` claim and the
  refresh-token family, so revoking the session, the family or the application is one
  set-based statement (django-oauth-toolkit #1809);
- one query loads a grant or a refresh token with everything the exchange needs (for a refresh
  token, its client too: the refresh grant makes no separate client lookup), and one
  statement rotates a refresh token (sso.token_store): a refresh is two queries.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from jwcrypto import jwk, jws, jwt
from oauth2_provider import oauth2_validators
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from accounts.claims import SUPPORTED_CLAIMS, user_claims
from accounts.models import AuthMethod, Channel
from accounts.selectors import user_password_change_pending
from accounts.services.mfa.amr import acr_value, amr_claim
from accounts.services.sessions import session_start
from identity.keys import signing_keys
from sso import selectors, services, token_store
from sso.hashers import ALGORITHM
from sso.models import Application, SignIn
from sso.selectors import access_token_cache_forget, token_checksum

logger = logging.getLogger(__name__)

AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()

# A consumed code keeps its row (so that a replay can be recognised) with this expiry.
CONSUMED = datetime(1970, 1, 1, tzinfo=UTC)


class OAuth2Validator(oauth2_validators.OAuth2Validator):
    oidc_claim_scope = None  # accounts.claims filters by scope itself

    # -- client authentication ------------------------------------------------------------
    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        if stored_secret.startswith(ALGORITHM + "$"):
            return services.client_secret_check(secret=provided_secret, stored=stored_secret)
        return super()._check_secret(provided_secret, stored_secret)

    def _load_application(self, client_id: str, request: Request) -> Any:
        """DOT's lookup, from the refresh token's own row on the refresh grant, else from a
        few seconds' cache (sso.selectors.application_cached): one query or cache read fewer
        on every token request. DOT still checks the row is usable."""
        if request.client is None and client_id:
            request.client = self._refresh_token_client(client_id, request)
            if request.client is None:
                request.client = selectors.application_cached(client_id=client_id)
            if request.client is not None:
                return super()._load_application(client_id, request)
        client = super()._load_application(client_id, request)
        if client is not None:
            selectors.application_cache_put(application=client)
        return client

    def _refresh_token_client(self, client_id: str, request: Request) -> Any:
        """The application of the presented refresh token when it is the client presenting it:
        the token's lookup (needed next anyway) brings the row, with no side effect before
        the client is authenticated. None otherwise, and the client is looked up as usual."""
        if getattr(request, "grant_type", None) != "refresh_token" or not request.refresh_token:
            return None
        rt = self._refresh_token_load(request.refresh_token, request)
        if rt is None or rt.application.client_id != client_id:
            return None
        return rt.application

    def save_bearer_token(self, token: dict[str, Any], request: Request, *args: Any, **kwargs):
        if request.grant_type in {"client_credentials", "refresh_token"}:
            # One statement each (sso.token_store), atomic by itself: no BEGIN and
            # COMMIT round trips.
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)

    # -- authorization request ------------------------------------------------------------
    def is_pkce_required(self, client_id: str, request: Request) -> bool:
        # Reached once client and redirect_uri are valid, so the error goes to the client.
        if request.code_challenge is not None and request.code_challenge_method != "S256":
            raise errors.InvalidRequestError(
                description='code_challenge_method must be "S256"; "plain" is not accepted '
                "(RFC 9700 §2.1.1).",
                request=request,
            )
        return True

    def validate_silent_login(self, request: Request) -> bool:
        # sso.views.AuthorizationView answers prompt=none for visitors (login_required).
        return True

    def validate_silent_authorization(self, request: Request) -> bool:
        # sso.views.AuthorizationView answers prompt=none without consent (consent_required).
        return True

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Request, *args: Any, **kwargs: Any
    ) -> None:
        if not services.application_user_may_sign_in(application=request.client, user=request.user):
            raise errors.AccessDeniedError(
                description="Only members of this application may sign in to it.",
                request=request,
            )
        grant = self._create_authorization_code(request, code)
        SignIn.objects.create(
            application=request.client,
            user=request.user,
            grant=grant,
            browser_session_id=getattr(request, "sso_browser_session_id", None),
            auth_time=getattr(request, "sso_auth_time", None) or timezone.now(),
        )

    # -- code exchange --------------------------------------------------------------------
    def _grant(self, code: str, request: Request) -> Any:
        cached = getattr(request, "_sso_grant", None)
        if cached is not None and cached.code == code:
            return cached
        # By code alone: oauthlib asks for the scopes (to pick the OIDC grant) before the
        # client is authenticated; validate_code checks the grant belongs to the client.
        grant = (
            Grant.objects.select_related(
                "user", "user__profile", "sso_sign_in__browser_session", "application"
            )
            .filter(code=code)
            .first()
        )
        request._sso_grant = grant
        if grant is not None and request.client is None:
            # Saves the client query: DOT's _load_application reuses request.client only when
            # its client_id equals the one presented, and authentication still checks it.
            request.client = grant.application
        return grant

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        grant = self._grant(code, request)
        if grant is None or grant.application_id != client.pk:
            return False
        sign_in = getattr(grant, "sso_sign_in", None)
        if grant.expires == CONSUMED:
            # RFC 6749 §4.1.2: a code used twice is stolen or replayed; revoke what it issued.
            if sign_in is not None:
                services.sign_ins_revoke(sids=[str(sign_in.pk)], reason="code_reused")
            return False
        if grant.is_expired() or not grant.user.is_active or sign_in is None:
            return False
        if user_password_change_pending(user=grant.user):
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.sso_sign_in = sign_in
        request.sso_sid = str(sign_in.pk)
        request.sso_auth_time = sign_in.auth_time
        browser = sign_in.browser_session
        request.sso_amr = browser.amr if browser else None
        return True

    def get_code_challenge(self, code: str, request: Request) -> str | None:
        return self._grant(code, request).code_challenge or None

    def get_code_challenge_method(self, code: str, request: Request) -> str | None:
        return self._grant(code, request).code_challenge_method or None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Request
    ) -> list[str]:
        grant = self._grant(code, request)
        return grant.scope.split() if grant else []

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: Request
    ) -> str | None:
        grant = self._grant(code, request)
        return (grant.nonce or None) if grant else None

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Request,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = self._grant(code, request)
        if (
            grant is None
            or grant.application_id != client.pk
            or not grant.redirect_uri_allowed(redirect_uri)
        ):
            return False
        # oauthlib checks the redirect_uri last, after PKCE: consume the code here, atomically,
        # so two concurrent exchanges cannot both succeed (RFC 6749 §4.1.2: used once).
        consumed = Grant.objects.filter(pk=grant.pk, expires__gt=CONSUMED).update(expires=CONSUMED)
        if not consumed:
            raise errors.InvalidGrantError(
                description="The code was already used.", request=request
            )
        return True

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Request, *args: Any, **kwargs: Any
    ) -> None:
        """Already consumed in confirm_redirect_uri; the row stays to recognise a replay."""

    def _check_and_set_request_resource(self, request: Request) -> None:
        # Resource indicators (RFC 8707) are not offered: tokens are audience-bound to the
        # client instead (RFC 8707 §2 lets the server refuse with invalid_target).
        if getattr(request, "resource", None):
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description="Resource indicators are not supported by this server.",
                request=request,
            )
        request.resource = []

    # -- tokens ---------------------------------------------------------------------------
    def _save_bearer_token(
        self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any
    ):
        if "scope" not in token:
            return super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "refresh_token":
            return self._rotate(token, request)
        id_token = getattr(request, "id_token", None)
        if id_token is not None and id_token.pk is None:
            id_token.save()
        if request.grant_type == "authorization_code":
            self._session_start(request)
        return super()._save_bearer_token(token, request, *args, **kwargs)

    def finalize_id_token(self, id_token: dict, token: Any, token_handler: Any, request: Request):
        """DOT's, but the IDToken row is saved with the other tokens in one transaction."""
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        signed = _id_token_sign(claims=id_token, client=request.client)
        request.id_token = IDToken(
            user=request.user,
            scope=" ".join(request.scopes),
            expires=expiration_time,
            jti=id_token["jti"],
            application=request.client,
        )
        return signed

    def _session_start(self, request: Request) -> None:
        """The sign-in becomes a UserSession; its id is already the id_token's sid."""
        sign_in = request.sso_sign_in
        browser = sign_in.browser_session
        session_start(
            user=request.user,
            channel=Channel.OAUTH,
            client={
                "ip": browser.ip if browser else None,
                "user_agent": browser.user_agent if browser else "",
                "device_label": (request.client.name or request.client.client_id)[:100],
            },
            lifetime=refresh_token_expire_timedelta() or timedelta(days=30),
            sid=sign_in.pk,
            # What the browser proved, step-ups included, is what this sign-in stands on.
            amr=request.sso_amr or AuthMethod.PASSWORD,
            client_id=request.client.client_id,
        )

    def _rotate(self, token: dict[str, Any], request: Request) -> None:
        """RFC 9700 §4.14.2 rotation: one statement on Postgres (DOT's path takes about eleven)."""
        self._check_and_set_request_resource(request)
        previous = request.refresh_token_instance
        now = timezone.now()
        expires_in = token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        access_token = self._access_token_row(
            request, token, now + timedelta(seconds=expires_in), previous
        )
        if not token_store.refresh_token_rotate(
            previous=previous,
            access_token=access_token,
            refresh_token=self._refresh_token_row(request, token["refresh_token"], None, previous),
            id_token=access_token.id_token,
            now=now,
        ):
            # A concurrent rotation won: two holders presented one token, which is reuse
            # (RFC 9700 §4.14.2) like a replay after the fact. End the family, winner included.
            services.sign_ins_revoke(sids=[str(previous.token_family)], reason="refresh_reuse")
            raise errors.InvalidGrantError(
                description="The refresh token was already used.", request=request
            )
        old_access = previous.access_token
        if old_access is not None:
            # After the statement: a request racing it cannot cache the deleted token again.
            access_token_cache_forget(checksums=[old_access.token_checksum])

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = self._access_token_row(request, token, expires, source_refresh_token)
        token_store.access_token_insert(access_token=access_token)
        return access_token

    def _access_token_row(self, request, token, expires, source_refresh_token) -> Any:
        # DOT re-reads and re-verifies the id_token it just signed; request.id_token holds it.
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=getattr(request, "id_token", None) if token.get("id_token") else None,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=[],
        )
        self._set_token_value(access_token, token["access_token"])
        return access_token

    def _create_refresh_token(
        self, request, refresh_token_code, access_token, previous_refresh_token
    ):
        refresh_token = self._refresh_token_row(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        refresh_token.save()
        return refresh_token

    def _refresh_token_row(self, request, raw_token, access_token, previous_refresh_token) -> Any:
        family = (
            previous_refresh_token.token_family
            if previous_refresh_token
            else getattr(request, "sso_sid", None)
        )
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=family,
            resource=[],
        )
        self._set_token_value(refresh_token, raw_token)
        return refresh_token

    # -- refresh --------------------------------------------------------------------------
    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        rt = self._refresh_token_load(refresh_token, request)
        if rt is None or rt.application_id != client.pk:
            return False
        if rt.revoked is not None:
            # RFC 9700 §4.14.2: a rotated or revoked token presented again means the family
            # leaked; end the whole sign-in, set-based. No grace period (DOT #1816).
            services.sign_ins_revoke(sids=[str(rt.token_family)], reason="refresh_reuse")
            return False
        if not self._refresh_token_usable(rt):
            return False
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        request.sso_sid = str(rt.token_family)
        request.sso_auth_time = rt.sso_auth_time
        request.sso_amr = rt.sso_amr
        return True

    @staticmethod
    def _refresh_token_load(raw: str, request: Request) -> Any:
        """One lookup per request: client authentication and the grant share it."""
        loaded = getattr(request, "_sso_refresh_token", None)
        if loaded is not None and loaded[0] == raw:
            return loaded[1]
        rt = token_store.refresh_token_load(checksum=token_checksum(raw), now=timezone.now())
        request._sso_refresh_token = (raw, rt)
        return rt

    @staticmethod
    def _refresh_token_usable(rt: Any) -> bool:
        if not (rt.token_family and rt.sso_session_live and rt.user.is_active):
            return False
        if user_password_change_pending(user=rt.user):
            return False  # issued before the flag: nothing more until the password changes
        if rt.access_token is None:
            return False
        expire_delta = refresh_token_expire_timedelta()
        return not (expire_delta and rt.access_token.expires + expire_delta <= timezone.now())

    def get_original_scopes(self, refresh_token: str, request: Request, *args: Any, **kwargs: Any):
        return request.refresh_token_instance.access_token.scope.split()

    # -- revocation (RFC 7009) ------------------------------------------------------------
    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Request, *args: Any, **kwargs: Any
    ) -> None:
        """Only the authenticated client's own tokens (RFC 7009 §2.1, DOT #727); revoking
        either token of a sign-in ends the sign-in (§2.1: "SHOULD also invalidate")."""
        application_pk = getattr(request.client, "pk", None)
        if application_pk is None:
            return
        services.token_revoke(raw_token=token, application_id=application_pk)

    # -- id_token and claims --------------------------------------------------------------
    def get_oidc_issuer_endpoint(self, request: Any) -> str:
        return services.issuer()

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Request) -> dict[str, Any]:
        return user_claims(user=request.user, scopes=request.scopes)

    def get_discovery_claims(self, request: Any) -> list[str]:
        return SUPPORTED_CLAIMS

    def get_id_token_dictionary(self, token: Any, token_handler: Any, request: Request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        auth_time = getattr(request, "sso_auth_time", None)
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        sid = getattr(request, "sso_sid", None)
        if sid:
            claims["sid"] = sid
            # OIDC Core §2: what the authentication was (RFC 8176 amr) and its class (acr, one
            # of acr_values_supported); a refreshed id_token repeats its sign-in's.
            amr = getattr(request, "sso_amr", None)
            claims["amr"], claims["acr"] = amr_claim(amr), acr_value(amr)
        return claims, expiration_time

    def _get_key_for_token(self, token: str) -> jwk.JWK | None:
        """Pick the verification key by kid from the whole key set, so an id_token_hint signed
        before a rotation still verifies at end-session."""
        unverified = jws.JWS()
        unverified.deserialize(token)
        kid = unverified.jose_header.get("kid")
        key = signing_keys().get(kid) if kid else None
        return jwk.JWK.from_pyca(key.public_key) if key else None


def _id_token_sign(*, claims: dict[str, Any], client: Any) -> str:
    """RS256 with the portal's active key, its RFC 7638 thumbprint as kid (Application.jwk_key
    names the same key). PyJWT, as for first-party tokens: jwcrypto deep-copies its header
    registry for every token, a fifth of the refresh grant's CPU."""
    if client.algorithm != Application.RS256_ALGORITHM:
        key = client.jwk_key  # DOT refuses HS256 with a hashed secret
        header = {"typ": "JWT", "alg": client.algorithm, "kid": key.thumbprint()}
        signed = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims, default=str))
        signed.make_signed_token(key)
        return signed.serialize()
    key = signing_keys().active
    return pyjwt.encode(
        claims,
        key.private_key,
        algorithm=Application.RS256_ALGORITHM,
        headers={"typ": "JWT", "kid": key.kid},
        json_encoder=DjangoJSONEncoder,
    )
