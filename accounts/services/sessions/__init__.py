"""The sign-in lifecycle's one owner: the only code that writes UserSession rows, on every channel.

Modules, one step each:

- ``start``: ``session_start`` records a sign-in on any channel (the browser sign-in, the API
  login, the OAuth code exchange, the admin login); ``request_client``/``client_describe``
  give the client fields it stores. The hot path's SQL (identity.postgres.rows_insert: the
  success LoginEvent and the UserSession in one statement) lives behind it, not in callers.
- ``browser``: the Django session cookie tied to its sign-in (start, adopt an admin login,
  supersede on signing in again, end) and re-authentication (``prompt=login``, ``max_age``).
- ``upkeep``: ``session_touch`` (last seen), ``session_recently_proven`` and
  ``session_proof_renew`` (re-authentication and step-up), ``session_refresh_rotate`` (the
  first-party refresh token's compare-and-swap; accounts.tokens issues and verifies the JWTs),
  ``sessions_purge`` (retention).
- ``revoke``: ``session_revoke`` (one known row), ``sessions_revoke`` (by sids, set-based),
  ``sessions_revoke_for_user`` (every live sign-in of a user but one).
- ``changes``: the one publisher. Every change above that ends a sign-in, and every saved or
  deleted user (accounts.apps), goes through ``sign_ins_changed_publish``, which tells every
  holder of a copy: the revoked-sid keys in the shared cache (``sid_is_revoked``: every
  process refuses the sids' tokens), the sign-in memory of every process
  (accounts.signin_memory, Redis pub/sub), then each listener registered with
  ``sign_in_listener_add`` by an app above accounts. sso registers one in
  ``SsoConfig.ready()``: the OAuth tokens of ended OAuth sign-ins end and leave its token
  cache, so accounts never knows sso's tables or cache keys, and sso never writes a session.

authz's version keys (authz/cache.py) are not fed from here, on purpose: they version what a
user holds (roles and assignments), which no sign-in change alters, and authz sits below
accounts (sso > accounts > authz > identity), so it cannot listen to this package. A role
change bumps them in authz's own services; tokens read roles fresh at issue and refresh.
"""

from __future__ import annotations

from accounts.services.sessions.browser import (
    REAUTH_KEY,
    SESSION_ID_KEY,
    SUPERSEDED_REASON,
    browser_session_adopt,
    browser_session_end,
    browser_session_start,
    browser_session_supersede,
    reauthenticated_since_request,
    reauthentication_pending,
    reauthentication_request,
)
from accounts.services.sessions.changes import (
    REVOKED_SID_PREFIX,
    UNKNOWN_CHANNEL,
    SignInChange,
    sid_is_revoked,
    sign_in_listener_add,
    sign_in_listener_remove,
    sign_in_listeners,
    sign_ins_changed_publish,
)
from accounts.services.sessions.revoke import (
    session_revoke,
    sessions_revoke,
    sessions_revoke_for_user,
    user_session_revoke,
    user_sessions_revoke,
)
from accounts.services.sessions.start import (
    CLIENT_ATTR,
    client_describe,
    request_client,
    session_start,
)
from accounts.services.sessions.upkeep import (
    session_proof_renew,
    session_recently_proven,
    session_refresh_rotate,
    session_touch,
    sessions_purge,
    user_session_recently_proven,
)

__all__ = [
    "CLIENT_ATTR",
    "REAUTH_KEY",
    "REVOKED_SID_PREFIX",
    "SESSION_ID_KEY",
    "SUPERSEDED_REASON",
    "UNKNOWN_CHANNEL",
    "SignInChange",
    "browser_session_adopt",
    "browser_session_end",
    "browser_session_start",
    "browser_session_supersede",
    "client_describe",
    "reauthenticated_since_request",
    "reauthentication_pending",
    "reauthentication_request",
    "request_client",
    "session_proof_renew",
    "session_recently_proven",
    "session_refresh_rotate",
    "session_revoke",
    "session_start",
    "session_touch",
    "sessions_purge",
    "sessions_revoke",
    "sessions_revoke_for_user",
    "sid_is_revoked",
    "sign_in_listener_add",
    "sign_in_listener_remove",
    "sign_in_listeners",
    "sign_ins_changed_publish",
    "user_session_recently_proven",
    "user_session_revoke",
    "user_sessions_revoke",
]
