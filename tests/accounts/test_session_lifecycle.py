"""The sign-in lifecycle has one owner: only accounts.services.sessions writes UserSession rows,
and every way a sign-in ends reaches the listeners of its one publisher (sso's among them)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Channel, UserSession
from accounts.services import sessions
from accounts.services.sessions import (
    REVOKED_SID_PREFIX,
    SESSION_ID_KEY,
    SignInChange,
    sign_in_listener_add,
    sign_in_listener_remove,
    sign_in_listeners,
    sign_ins_changed_publish,
)
from identity.models import Event
from identity.webhooks.delivery import subscriptions
from sso import services as sso_services
from sso.models import SignIn
from sso.selectors import TOKEN_CACHE_PREFIX, token_checksum
from tests.factories import DEFAULT_PASSWORD, UserSessionFactory
from tests.sso.conftest import (
    LOGOUT_URI,
    authorize,
    basic,
    exchange,
    pkce_pair,
    query,
    register,
    sign_in,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "accounts" / "services" / "sessions"
APPS = ("accounts", "authz", "identity", "sso", "bench")
WRITES = {
    "create",
    "get_or_create",
    "update_or_create",
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "_raw_delete",
    "save",
    "save_base",
}


# -- the source scan: "a grep for UserSession writes outside the sessions service finds none" --
class _SessionWrites(ast.NodeVisitor):
    """Calls that write UserSession rows: a write method on UserSession.objects, on a user's
    ``sessions`` manager or on a name bound to either (or annotated UserSession); a
    UserSession built; rows_insert given a session."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.found: list[int] = []

    def sessiony(self, node: ast.AST | None) -> bool:
        while node is not None:
            if isinstance(node, ast.Name):
                return node.id in self.bound or node.id == "UserSession"
            if isinstance(node, ast.Attribute):
                if node.attr == "sessions" or (
                    node.attr == "objects"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "UserSession"
                ):
                    return True
                node = node.value
            elif isinstance(node, ast.Call):
                node = node.func
            elif isinstance(node, ast.Subscript):
                node = node.value
            elif isinstance(node, ast.BinOp):
                return self.sessiony(node.left) or self.sessiony(node.right)
            else:
                return False
        return False

    def _bind(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Name) and self.sessiony(value):
            self.bound.add(target.id)
        elif isinstance(target, ast.Tuple):
            for element in target.elts:
                self._bind(element, value)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if "UserSession" in ast.unparse(node.annotation):
            self._bind(node.target, ast.Name("UserSession"))
        self._bind(node.target, node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._bind(node.target, node.iter)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.annotation is not None and "UserSession" in ast.unparse(node.annotation):
            self.bound.add(node.arg)

    def visit_Call(self, node: ast.Call) -> None:
        if self._writes(node):
            self.found.append(node.lineno)
        self.generic_visit(node)

    def _writes(self, node: ast.Call) -> bool:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "UserSession":
            return True  # a row built is a row about to be saved
        if isinstance(func, ast.Attribute) and func.attr in WRITES:
            return self.sessiony(func.value)
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name == "rows_insert" and any(
            self.sessiony(arg) or "session" in ast.unparse(arg).lower() for arg in node.args
        )


def session_writes(source: str) -> list[int]:
    """The lines of ``source`` that write UserSession rows."""
    visitor = _SessionWrites()
    visitor.visit(ast.parse(source))
    return sorted(set(visitor.found))


def _modules_outside_the_owner() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if OWNER in path.parents or "migrations" in path.parts:
                continue
            yield path


def test_no_module_outside_the_sessions_package_writes_user_sessions():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in _modules_outside_the_owner()
        if (lines := session_writes(path.read_text()))
    }
    assert offenders == {}


def test_the_sessions_package_is_where_the_writes_are():
    """The scan finds the writes where they belong: it is not blind."""
    found = {path.name for path in OWNER.glob("*.py") if session_writes(path.read_text())}
    assert {"start.py", "revoke.py", "upkeep.py"} <= found


@pytest.mark.parametrize(
    "source",
    [
        "UserSession.objects.create(user=user)",
        "UserSession.objects.filter(pk=sid).update(revoked_at=now)",
        "UserSession.objects.filter(\n    pk=sid,\n).delete()",
        "UserSession.objects.bulk_create(rows)",
        "rows = UserSession.objects.filter(user=user)\nrows.update(revoked_at=now)",
        "s = UserSession.objects.get(pk=sid)\ns.revoked_at = now\ns.save()",
        "def f(session: UserSession):\n    session.save(update_fields=['revoked_at'])",
        "user.sessions.all().update(revoked_at=now)",
        "for s in UserSession.objects.all():\n    s.delete()",
        "rows_insert(event, UserSession(user=user))",
        "rows_insert(event, session)",
        "stale = UserSession.objects.filter(a=1) | UserSession.objects.filter(b=2)\nstale.delete()",
    ],
)
def test_the_scan_finds_a_session_write(source):
    assert session_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "UserSession.objects.filter(user=user).exists()",
        "session = UserSession.objects.filter(pk=sid).first()\nsession_revoke(session=session)",
        "rows_insert(event)",
        "LoginEvent.objects.filter(user=user).delete()",
        "request.session.delete()",
    ],
)
def test_the_scan_lets_reads_and_other_writes_pass(source):
    assert session_writes(source) == []


# -- the publisher -----------------------------------------------------------------------------
@pytest.fixture
def heard() -> Iterator[list[SignInChange]]:
    """Every change published during the test, to a listener registered as sso registers."""
    changes: list[SignInChange] = []
    sign_in_listener_add(changes.append)
    yield changes
    sign_in_listener_remove(changes.append)


@pytest.fixture
def sso_tokens_ended(monkeypatch) -> list[list[str]]:
    """The sids sso's listener ends the OAuth tokens of (sso.services.sign_in_tokens_end)."""
    calls: list[list[str]] = []
    original = sso_services.sign_in_tokens_end

    def spy(*, sids: list[str]) -> None:
        calls.append(list(sids))
        original(sids=sids)

    monkeypatch.setattr(sso_services, "sign_in_tokens_end", spy)
    return calls


def _ended(heard: list[SignInChange]) -> set[str]:
    return {sid for change in heard for sid in change.sids}


def test_sso_registers_its_listener_when_the_app_is_ready():
    assert sso_services.sign_ins_changed in sign_in_listeners()


def test_the_publisher_marks_the_sids_then_tells_the_memory_and_the_listeners(heard, monkeypatch):
    told = []
    monkeypatch.setattr(
        sessions.changes.signin_memory,
        "forget",
        lambda *, sids, user_pks: told.append(("memory", list(sids), list(user_pks))),
    )
    sid = str(uuid.uuid4())
    sign_ins_changed_publish(ended={sid: Channel.API}, user_pks=[7])
    assert cache.get(REVOKED_SID_PREFIX + sid) is True
    assert told == [("memory", [sid], [7])]
    assert heard == [SignInChange(ended={sid: Channel.API}, user_pks=(7,))]


def test_a_changed_user_is_published_without_marking_any_sid(heard, user):
    heard.clear()  # the factory saves the user it made
    user.first_name = "Changed"
    user.save()
    assert heard == [SignInChange(ended={}, user_pks=(user.pk,))]


@pytest.mark.parametrize(
    ("channel", "queries"),
    # A browser sign-in (the admin's too) may have approved OAuth sign-ins: one query asks.
    [(Channel.BROWSER, 1), (Channel.API, 0), (Channel.ADMIN, 1)],
)
def test_sso_listener_costs_at_most_one_query_for_sign_ins_without_oauth_tokens(
    channel, queries, sso_tokens_ended, django_assert_num_queries
):
    with django_assert_num_queries(queries):
        sso_services.sign_ins_changed(SignInChange(ended={str(uuid.uuid4()): channel}))
    assert sso_tokens_ended == []


# -- every way a sign-in ends reaches the listeners -------------------------------------------
@dataclass(frozen=True)
class Ended:
    sid: str
    access_token: str = ""  # an OAuth sign-in's, used once (so sso had cached it)


def _oauth_sign_in(browser: Client, user, owner) -> tuple[str, dict[str, str], object]:
    """An OAuth sign-in (the browser signs in, then authorizes): its sid, its tokens (the
    access token used once, so sso caches it) and its relying party."""
    rp = register(owner)
    tokens = sign_in(browser, rp, user)
    sid = str(UserSession.objects.get(user=user, channel=Channel.OAUTH).pk)
    assert _userinfo(tokens["access_token"]) == 200
    assert cache.get(TOKEN_CACHE_PREFIX + token_checksum(tokens["access_token"])) is not None
    return sid, tokens, rp


def _userinfo(access_token: str) -> int:
    bearer = f"Bearer {access_token}"
    return Client().get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=bearer).status_code


def _browser_sign_out(user, owner, user_factory) -> Ended:
    browser = Client()
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert browser.post(reverse("accounts:login"), body).status_code == 302
    sid = browser.session[SESSION_ID_KEY]
    browser.post(reverse("accounts:logout"))
    return Ended(sid)


def _api_logout(user, owner, user_factory) -> Ended:
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    tokens = APIClient().post(reverse("api:accounts:login"), body, format="json").json()
    sid = str(UserSession.objects.get(user=user, channel=Channel.API).pk)
    response = APIClient().post(
        reverse("api:accounts:logout"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 204
    return Ended(sid)


def _oauth_revocation(user, owner, user_factory) -> Ended:
    sid, tokens, rp = _oauth_sign_in(Client(), user, owner)
    response = Client().post(
        reverse("oauth2_provider:revoke-token"),
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert response.status_code == 200
    return Ended(sid, tokens["access_token"])


def _end_session(user, owner, user_factory) -> Ended:
    browser = Client()
    sid, tokens, _ = _oauth_sign_in(browser, user, owner)
    response = browser.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_URI},
    )
    assert response.status_code == 302
    return Ended(sid, tokens["access_token"])


def _admin_revoke(user, owner, user_factory) -> Ended:
    sid, tokens, _ = _oauth_sign_in(Client(), user, owner)
    admin = Client()
    admin.force_login(user_factory(superuser=True))
    admin.post(
        reverse("admin:accounts_usersession_changelist"),
        {"action": "revoke", "_selected_action": [sid]},
    )
    return Ended(sid, tokens["access_token"])


def _user_deactivation(user, owner, user_factory) -> Ended:
    sid, tokens, _ = _oauth_sign_in(Client(), user, owner)
    account_services.user_deactivate(user=user)
    return Ended(sid, tokens["access_token"])


def _sessions_page_revoke(user, owner, user_factory) -> Ended:
    sid, tokens, _ = _oauth_sign_in(Client(), user, owner)
    page = Client()
    page.force_login(user)
    page.post(reverse("accounts:session_revoke", args=[sid]))
    return Ended(sid, tokens["access_token"])


EVERY_WAY: list[Callable[..., Ended]] = [
    _browser_sign_out,
    _api_logout,
    _oauth_revocation,
    _end_session,
    _admin_revoke,
    _user_deactivation,
    _sessions_page_revoke,
]
OAUTH_WAYS = EVERY_WAY[2:]


def _name(way: Callable[..., Ended]) -> str:
    return way.__name__.strip("_")


@pytest.fixture
def owner(user_factory):
    return user_factory()


@pytest.mark.parametrize("end", EVERY_WAY, ids=_name)
def test_every_way_of_ending_a_sign_in_reaches_the_listeners(end, user, owner, user_factory, heard):
    sid = end(user, owner, user_factory).sid
    assert sid in _ended(heard)
    assert UserSession.objects.get(pk=sid).revoked_at is not None
    assert cache.get(REVOKED_SID_PREFIX + sid) is True


@pytest.mark.parametrize("end", OAUTH_WAYS, ids=_name)
def test_an_ended_oauth_sign_in_loses_its_tokens_through_the_sso_listener(
    end, user, owner, user_factory, sso_tokens_ended
):
    ended = end(user, owner, user_factory)
    assert [ended.sid] in sso_tokens_ended
    assert cache.get(TOKEN_CACHE_PREFIX + token_checksum(ended.access_token)) is None
    assert _userinfo(ended.access_token) == 401


def test_a_browser_sign_out_asks_nothing_of_sso(user, owner, user_factory, sso_tokens_ended):
    _browser_sign_out(user, owner, user_factory)
    assert sso_tokens_ended == []


# -- every way a sign-in ends writes one session.revoked event ---------------------------------
def _password_change(user, owner, user_factory) -> Ended:
    sid, tokens, _ = _oauth_sign_in(Client(), user, owner)
    account_services.password_change(
        user=user, current_password=DEFAULT_PASSWORD, new_password="A fresh passphrase 42!"
    )
    return Ended(sid, tokens["access_token"])


def _first_party_refresh_reuse(user, owner, user_factory) -> Ended:
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    tokens = APIClient().post(reverse("api:accounts:login"), body, format="json").json()
    sid = str(UserSession.objects.get(user=user, channel=Channel.API).pk)
    again = {"refresh_token": tokens["refresh_token"]}
    assert (
        APIClient().post(reverse("api:accounts:refresh"), again, format="json").status_code == 200
    )
    assert (
        APIClient().post(reverse("api:accounts:refresh"), again, format="json").status_code == 401
    )
    return Ended(sid)


@pytest.mark.parametrize(
    "end", [*EVERY_WAY, _password_change, _first_party_refresh_reuse], ids=_name
)
def test_every_way_of_ending_a_sign_in_writes_one_session_revoked_event(
    end, user, owner, user_factory
):
    ended = end(user, owner, user_factory)
    session = UserSession.objects.get(pk=ended.sid)
    [event] = Event.objects.filter(type="session.revoked", sid=ended.sid)
    assert event.subject_public_id == user.public_id
    assert event.data == {"reason": session.revoked_reason, "channel": session.channel}
    assert session.revoked_reason
    if session.channel == Channel.OAUTH:
        assert event.client_id == SignIn.objects.get(pk=ended.sid).application.client_id
    else:
        assert event.client_id == ""


def test_a_revocation_of_many_sign_ins_writes_their_events_in_one_insert(
    user, django_assert_num_queries
):
    UserSessionFactory.create_batch(5, user=user, channel=Channel.API, session_key="")
    subscriptions()  # the webhook subscriptions cached, as on any node after its first event
    # The live rows locked, their UPDATE, the events' INSERT (the browser and sso's listener
    # ask nothing for API sign-ins).
    with django_assert_num_queries(4):
        assert sessions.sessions_revoke_for_user(user=user, reason="test") == 5
    assert (
        Event.objects.filter(type="session.revoked", subject_public_id=user.public_id).count() == 5
    )


def test_a_sign_in_already_revoked_is_published_again_but_written_once(user, heard):
    session = UserSessionFactory(user=user)
    sessions.sessions_revoke(sids=[str(session.pk)], reason="first")
    sessions.sessions_revoke(sids=[str(session.pk)], reason="second")
    assert [change.sids for change in heard].count([str(session.pk)]) == 2
    [event] = Event.objects.filter(sid=str(session.pk))
    assert event.data["reason"] == "first"


def _browser_that_approved_an_app(user, owner) -> tuple[Client, str, Any, dict]:
    """A browser signed in to the portal that approved an OAuth sign-in: the browser, its sid,
    the application and the application's tokens."""
    browser = Client()
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert browser.post(reverse("accounts:login"), body).status_code == 302
    rp = register(owner)
    verifier, challenge = pkce_pair()
    code = query(authorize(browser, rp, challenge=challenge))["code"]
    tokens = exchange(browser, rp, code, verifier).json()
    return browser, browser.session[SESSION_ID_KEY], rp, tokens


def test_signing_out_of_the_portal_ends_the_oauth_sign_ins_that_browser_approved(
    user, owner, user_factory
):
    browser, browser_sid, rp, tokens = _browser_that_approved_an_app(user, owner)
    elsewhere = sign_in(Client(), rp, user)  # approved by another browser: stays

    browser.post(reverse("accounts:logout"))

    assert _userinfo(tokens["access_token"]) == 401
    assert _userinfo(elsewhere["access_token"]) == 200
    approved = SignIn.objects.get(browser_session_id=browser_sid)
    assert UserSession.objects.get(pk=approved.pk).revoked_reason == "signed_out"
    assert Event.objects.filter(type="session.revoked", sid=str(approved.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_browser_sign_in_and_the_oauth_sign_ins_it_approved_end_together_or_not_at_all(
    user, owner, monkeypatch
):
    _, browser_sid, _, _ = _browser_that_approved_an_app(user, owner)
    approved = SignIn.objects.get(browser_session_id=browser_sid)

    class Crash(Exception):
        pass

    def crash(**kwargs: object) -> None:  # the process dies while ending what it approved
        raise Crash

    monkeypatch.setattr(sso_services, "sign_ins_revoke", crash)
    session = UserSession.objects.get(pk=browser_sid)
    with pytest.raises(Crash):
        sessions.user_session_revoke(user=user, session_id=str(session.pk), reason="signed_out")

    # Nothing half-done: the browser sign-in is still live with its approved one, no event
    # tells of an end that did not happen, and signing out again ends both.
    assert UserSession.objects.get(pk=browser_sid).revoked_at is None
    assert UserSession.objects.get(pk=approved.pk).revoked_at is None
    assert not Event.objects.filter(type="session.revoked").exists()
    monkeypatch.undo()
    sessions.user_session_revoke(user=user, session_id=str(session.pk), reason="signed_out")
    assert UserSession.objects.get(pk=approved.pk).revoked_at is not None


def test_revoking_a_browser_sign_in_on_the_sessions_page_ends_what_it_approved(
    user, owner, user_factory
):
    _, browser_sid, _, tokens = _browser_that_approved_an_app(user, owner)

    page = Client()
    page.force_login(user)
    page.post(reverse("accounts:session_revoke", args=[browser_sid]))

    assert _userinfo(tokens["access_token"]) == 401


def test_signing_in_again_in_the_same_browser_keeps_the_applications_signed_in(
    user, owner, user_factory
):
    browser, _, _, tokens = _browser_that_approved_an_app(user, owner)
    body = {"username": user.username, "password": DEFAULT_PASSWORD}

    # Re-authentication (prompt=login, max_age) signs the browser in again.
    assert browser.post(reverse("accounts:login"), body).status_code == 302

    assert _userinfo(tokens["access_token"]) == 200
