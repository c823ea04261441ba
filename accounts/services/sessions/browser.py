"""Browser sign-ins: the Django session cookie tied to its UserSession, and re-authentication."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AuthMethod, Channel, LoginEvent, User, UserSession
from accounts.services.sessions.revoke import sessions_mark_revoked
from accounts.services.sessions.start import request_client, session_start

LOGIN_BACKEND = "accounts.backends.LoginBackend"

SESSION_ID_KEY = "_user_session_id"
REAUTH_KEY = "_reauthentication_requested_at"
# Why a browser's earlier sign-in ended when it signed in again (listeners keep what it approved).
SUPERSEDED_REASON = "signed_in_again"
# A re-authentication asked for and abandoned stops showing the sign-in page after this.
REAUTH_WINDOW = 600


def browser_session_start(
    *,
    request: HttpRequest,
    user: User,
    event: LoginEvent | None = None,
    amr: str = AuthMethod.PASSWORD,
    channel: str = Channel.BROWSER,
) -> UserSession:
    """Signs the browser in (a fresh session key) and records the sign-in, with its success
    event in the same statement when given. A browser signed in already (re-authentication,
    another account) leaves its earlier sign-in behind: that one ends. ``channel`` is admin
    for the Django admin's sign-in finished on the second-factor page."""
    previous = request.session.get(SESSION_ID_KEY)
    # A fresh session key; sends user_logged_in (axes resets). A user proven by a factor alone
    # (a passkey, a pending step loaded by its token) came through no backend: name ours.
    login(request, user, backend=getattr(user, "backend", None) or LOGIN_BACKEND)
    session = session_start(
        user=user,
        channel=channel,
        client=request_client(request),
        lifetime=timedelta(seconds=settings.SESSION_COOKIE_AGE),
        session_key=request.session.session_key or "",
        event=event,
        amr=amr,
    )
    request.session[SESSION_ID_KEY] = str(session.id)
    if previous:
        browser_session_supersede(session_id=previous)
    return session


def browser_session_adopt(*, request: HttpRequest) -> UserSession:
    """Records a browser sign-in made by a login view outside our services (Django admin's).

    Every signed-in browser session then has a UserSession, so it can be listed and revoked.
    """
    session = session_start(
        user=request.user,
        channel=Channel.ADMIN if request.path.startswith("/admin/") else Channel.BROWSER,
        client=request_client(request),
        lifetime=timedelta(seconds=settings.SESSION_COOKIE_AGE),
        session_key=request.session.session_key or "",
    )
    request.session[SESSION_ID_KEY] = str(session.id)
    return session


def browser_session_supersede(*, session_id: str) -> None:
    """A browser that signs in again (re-authentication, or another account) leaves its
    earlier sign-in behind: that one ends, so it is neither listed nor usable as live. Its
    Django session is already gone (login() made a new key)."""
    sessions_mark_revoked(ended={str(session_id): Channel.BROWSER}, reason=SUPERSEDED_REASON)


def browser_session_end(*, request: HttpRequest) -> None:
    """Signs this browser out: its sign-in ends and logout() deletes its Django session."""
    session_id = request.session.get(SESSION_ID_KEY)
    if session_id:
        sessions_mark_revoked(ended={str(session_id): Channel.BROWSER}, reason="signed_out")
    logout(request)


def reauthentication_request(*, request: HttpRequest) -> None:
    """Asks the sign-in page to authenticate this browser again although it is signed in
    (OIDC Core §3.1.2.1: ``prompt=login``, an exceeded ``max_age``)."""
    request.session[REAUTH_KEY] = timezone.now().timestamp()


def reauthentication_pending(*, request: HttpRequest) -> bool:
    requested = request.session.get(REAUTH_KEY)
    return requested is not None and timezone.now().timestamp() - requested < REAUTH_WINDOW


def reauthenticated_since_request(*, request: HttpRequest, auth_time: datetime | None) -> bool:
    """Whether the browser signed in after re-authentication was asked for; answers True once,
    so a request that asks again (prompt=login, max_age=0) cannot loop."""
    requested = request.session.get(REAUTH_KEY)
    if requested is None or auth_time is None or auth_time.timestamp() < requested:
        return False
    del request.session[REAUTH_KEY]
    return True
