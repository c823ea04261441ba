"""A small relying party for trying single sign-on: a separate process on another port.

    make demo-client        # registers "Demo client" once, then serves http://127.0.0.1:8001/

It signs in through the portal with the authorization code flow and S256 PKCE (authlib), verifies
the id_token's signature against the portal's JWKS and its iss, aud, exp and nonce (jwcrypto),
shows the claims, refreshes the tokens and signs out with RP-initiated logout. The portal signs
it out too (OpenID Connect Back-Channel Logout 1.0): it POSTs a logout token to
/backchannel-logout when the user's sign-in ends there (signed out, session revoked...); the
demo verifies it against the JWKS and ends its own sessions of that sid. A public client: it
holds no secret. Stdlib wsgiref, no Django: it is the kind of code a client team writes.

Configuration: PORTAL_URL (http://127.0.0.1:8000), DEMO_PORT (8001), DEMO_CLIENT_ID, or the
client_id that ``manage.py demo_client_register`` wrote to var/demo_client.json.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
from authlib.common.errors import AuthlibBaseError
from jwcrypto import jwk, jwt

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib 1.9 announces httpx2; httpx is what we have
    from authlib.integrations.httpx_client import OAuth2Client

CONFIG_FILE = Path(__file__).resolve().parents[1] / "var" / "demo_client.json"
COOKIE = "demo_client_session"
SCOPE = "openid profile email roles"
Environ = dict[str, Any]


@dataclass(frozen=True)
class Config:
    portal_url: str
    client_id: str
    base_url: str  # where this app is served, e.g. http://127.0.0.1:8001

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"


@dataclass
class Session:
    state: str = ""
    verifier: str = ""
    nonce: str = ""
    token: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class IdTokenInvalid(Exception):
    pass


class LogoutTokenInvalid(Exception):
    pass


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CLOCK_SKEW_SECONDS = 60


class DemoClient:
    """The WSGI application; sessions live in memory, keyed by a random cookie."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.sessions: dict[str, Session] = {}
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # -- the portal ---------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.config.portal_url}/.well-known/openid-configuration"
            self._metadata = httpx.get(url, timeout=10).raise_for_status().json()
        return self._metadata

    def _oauth(self, token: dict[str, Any] | None = None) -> OAuth2Client:
        return OAuth2Client(
            self.config.client_id,
            scope=SCOPE,
            redirect_uri=self.config.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # noqa: S106 - a public client has no secret
            token=token,
            timeout=10,
        )

    def _keys(self) -> jwk.JWKSet:
        jwks = httpx.get(self.metadata["jwks_uri"], timeout=10).raise_for_status()
        return jwk.JWKSet.from_json(jwks.text)

    def _verified(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Signature by the JWKS (kid), iss and aud: the token's header and claims."""
        verified = jwt.JWT(
            jwt=token,
            key=self._keys(),
            algs=["RS256"],
            check_claims={"iss": self.metadata["issuer"], "aud": self.config.client_id},
            expected_type="JWS",
        )
        return verified.token.jose_header, json.loads(verified.claims)

    def verify_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """Signature by the JWKS (kid), then iss, aud, exp; the nonce of this sign-in."""
        try:
            _, claims = self._verified(id_token)
        except Exception as error:  # jwcrypto raises a handful of unrelated types
            raise IdTokenInvalid(str(error)) from error
        if claims.get("exp", 0) <= time.time():
            raise IdTokenInvalid("expired")
        if nonce is not None and claims.get("nonce") != nonce:
            raise IdTokenInvalid("nonce mismatch")
        return claims

    def verify_logout_token(self, token: str) -> dict[str, Any]:
        """Back-Channel Logout 1.0 §2.6: signature, iss, aud (as an id_token), a current iat
        and exp, the typ the portal sets, the back-channel logout event, a sid or a sub, and
        no nonce (which would make it an id_token passed off as a logout token)."""
        try:
            header, claims = self._verified(token)
        except Exception as error:  # jwcrypto raises a handful of unrelated types
            raise LogoutTokenInvalid(str(error)) from error
        now = time.time()
        if header.get("typ") != "logout+jwt":
            raise LogoutTokenInvalid("not a logout token (typ)")
        if not claims.get("iat") or claims["iat"] > now + CLOCK_SKEW_SECONDS:
            raise LogoutTokenInvalid("iat missing or in the future")
        if claims.get("exp", 0) <= now - CLOCK_SKEW_SECONDS:
            raise LogoutTokenInvalid("expired")
        if not isinstance(claims.get("events"), dict) or not isinstance(
            claims["events"].get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise LogoutTokenInvalid("no back-channel logout event")
        if "nonce" in claims:
            raise LogoutTokenInvalid("a logout token carries no nonce")
        if not claims.get("sid") and not claims.get("sub"):
            raise LogoutTokenInvalid("neither sid nor sub")
        return claims

    def sessions_end(self, *, sid: str | None, sub: str | None) -> int:
        """Ends this app's sessions of the portal sign-in ``sid`` (of user ``sub`` when no sid
        is given); the number ended."""
        ended = 0
        with self._lock:
            for session in self.sessions.values():
                claims = session.claims
                if not claims:
                    continue
                if (sid and claims.get("sid") == sid) or (not sid and claims.get("sub") == sub):
                    session.token, session.claims = {}, {}
                    session.message = "The portal signed you out."
                    ended += 1
        return ended

    def backchannel_logout(self, environ: Environ) -> tuple[str, list, str]:
        """POST logout_token=... from the portal (§2.5); 200 once handled, 400 when invalid
        (§2.8), never cached."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(min(length, 64 * 1024)).decode())
        try:
            claims = self.verify_logout_token(form.get("logout_token", [""])[0])
        except LogoutTokenInvalid as error:
            body = json.dumps({"error": "invalid_request", "error_description": str(error)})
            return "400 Bad Request", [("Content-Type", "application/json")], body
        self.sessions_end(sid=claims.get("sid"), sub=claims.get("sub"))
        return "200 OK", [], ""

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: Environ, start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if environ["REQUEST_METHOD"] == "POST" and path == "/backchannel-logout":
            # Server to server: no browser, no cookie, no session of its own.
            status, headers, body = self.backchannel_logout(environ)
            start_response(status, [*headers, ("Cache-Control", "no-store")])
            return [body.encode()]
        sid, session = self._session(environ)
        routes = {
            ("GET", "/"): self.home,
            ("GET", "/login"): self.login,
            ("GET", "/callback"): self.callback,
            ("POST", "/refresh"): self.refresh,
            ("POST", "/logout"): self.logout,
        }
        handler = routes.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")))
        if handler is None:
            status, headers, body = "404 Not Found", [], _page("Not found", "<p>Not found.</p>")
        else:
            status, headers, body = handler(environ, session)
        headers = [
            *headers,
            ("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"),
            ("Cache-Control", "no-store"),
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; "
                f"form-action 'self' {self.config.portal_url}",
            ),
        ]
        if body:
            headers.append(("Content-Type", "text/html; charset=utf-8"))
        start_response(status, headers)
        return [body.encode()]

    def _session(self, environ: Environ) -> tuple[str, Session]:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else ""
        with self._lock:
            if sid not in self.sessions:
                sid = secrets.token_urlsafe(24)
                self.sessions[sid] = Session()
            return sid, self.sessions[sid]

    def home(self, environ: Environ, session: Session) -> tuple[str, list, str]:
        message = f'<p role="status">{html.escape(session.message)}</p>' if session.message else ""
        session.message = ""
        if not session.claims:
            body = (
                f"{message}<p>You are not signed in.</p>"
                '<form method="get" action="/login"><button>Sign in with the portal</button></form>'
            )
            return "200 OK", [], _page("Demo client", body)
        rows = "".join(
            f"<tr><th scope=row>{html.escape(key)}</th><td>{html.escape(_show(value))}</td></tr>"
            for key, value in sorted(session.claims.items())
        )
        body = (
            f"{message}<p>Signed in. The id_token's signature and iss, aud, exp and nonce "
            "are verified.</p>"
            f"<table><caption>Verified id_token claims</caption>{rows}</table>"
            f"<p>Access token expires in {session.token.get('expires_in', '?')} s.</p>"
            '<form method="post" action="/refresh"><button>Refresh tokens</button></form>'
            '<form method="post" action="/logout"><button>Sign out</button></form>'
        )
        return "200 OK", [], _page("Demo client", body)

    def login(self, environ: Environ, session: Session) -> tuple[str, list, str]:
        session.verifier = secrets.token_urlsafe(48)
        session.nonce = secrets.token_urlsafe(16)
        with self._oauth() as client:
            url, session.state = client.create_authorization_url(
                self.metadata["authorization_endpoint"],
                code_verifier=session.verifier,
                nonce=session.nonce,
            )
        return "302 Found", [("Location", url)], ""

    def callback(self, environ: Environ, session: Session) -> tuple[str, list, str]:
        params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if not session.state or params.get("state") != session.state:
            return _fail("The state does not match this browser's sign-in.")
        if "error" in params:
            return _fail(f"The portal answered {params['error']}.")
        if params.get("iss") != self.metadata["issuer"]:  # RFC 9207 mix-up defence
            return _fail("The response comes from another issuer.")
        session.state = ""
        try:
            with self._oauth() as client:
                token = client.fetch_token(
                    self.metadata["token_endpoint"],
                    code=params.get("code", ""),
                    code_verifier=session.verifier,
                )
        except AuthlibBaseError as error:
            return _fail(f"The code exchange failed: {error.error}.")
        try:
            claims = self.verify_id_token(token["id_token"], nonce=session.nonce)
        except (IdTokenInvalid, KeyError) as error:
            return _fail(f"The id_token is not valid: {error}.")
        session.token, session.claims = dict(token), claims
        session.message = "Signed in."
        return "302 Found", [("Location", "/")], ""

    def refresh(self, environ: Environ, session: Session) -> tuple[str, list, str]:
        if not session.token:
            return "302 Found", [("Location", "/")], ""
        try:
            with self._oauth(token=session.token) as client:
                token = dict(client.refresh_token(self.metadata["token_endpoint"]))
        except AuthlibBaseError as error:
            session.token, session.claims = {}, {}
            session.message = f"Refresh refused ({error.error}): sign in again."
            return "302 Found", [("Location", "/")], ""
        if token.get("id_token"):
            # OIDC Core §12.2: same iss and sub; no nonce on a refreshed id_token.
            claims = self.verify_id_token(token["id_token"], nonce=None)
            if claims["sub"] != session.claims.get("sub"):
                return _fail("The refreshed id_token is for another user.")
            session.claims = {**claims, "nonce": session.claims.get("nonce")}
        else:
            token["id_token"] = session.token.get("id_token")
        session.token = token
        session.message = "Tokens refreshed."
        return "302 Found", [("Location", "/")], ""

    def logout(self, environ: Environ, session: Session) -> tuple[str, list, str]:
        hint = session.token.get("id_token")
        session.token, session.claims = {}, {}
        if not hint:
            return "302 Found", [("Location", "/")], ""
        session.message = "Signed out."
        query = urlencode(
            {
                "id_token_hint": hint,
                "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
                "client_id": self.config.client_id,
            }
        )
        return "302 Found", [("Location", f"{self.metadata['end_session_endpoint']}?{query}")], ""


def _show(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _fail(message: str) -> tuple[str, list, str]:
    body = f'<p role="alert">{html.escape(message)}</p><p><a href="/">Back</a></p>'
    return "400 Bad Request", [], _page("Sign-in failed", body)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font-family:sans-serif;margin:2rem}th{text-align:left;padding-right:1rem}"
        f"form{{display:inline-block;margin-right:.5rem}}</style></head><body><h1>{title}</h1>"
        f"{body}</body></html>"
    )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("DEMO_VERBOSE"):
            super().log_message(format, *args)


def serve(app: DemoClient, *, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A wsgiref server (port 0 picks a free one); call ``serve_forever`` on it."""
    return make_server(host, port, app, handler_class=_QuietHandler)


def config_from_env() -> Config:
    port = int(os.environ.get("DEMO_PORT", "8001"))
    client_id = os.environ.get("DEMO_CLIENT_ID", "")
    if not client_id and CONFIG_FILE.exists():
        client_id = json.loads(CONFIG_FILE.read_text())["client_id"]
    if not client_id:
        raise SystemExit(
            "No client_id: run `manage.py demo_client_register` or set DEMO_CLIENT_ID."
        )
    portal = os.environ.get("PORTAL_URL", "http://127.0.0.1:8000").rstrip("/")
    return Config(portal_url=portal, client_id=client_id, base_url=f"http://127.0.0.1:{port}")


def main() -> None:
    config = config_from_env()
    port = int(config.base_url.rsplit(":", 1)[1])
    server = serve(DemoClient(config), port=port)
    print(f"Demo client on {config.base_url}/ (portal {config.portal_url}); Ctrl-C stops it.")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
