"""Query budgets of a successful sign-in, and the session store that keeps the page's low."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import LoginEvent, TotpDevice, UserSession
from accounts.services.sessions import SESSION_ID_KEY
from tests.factories import DEFAULT_PASSWORD

# Outside a test transaction, so that BEGIN and COMMIT are counted as in production.
pytestmark = pytest.mark.django_db(transaction=True)

STORE = "accounts.session_store"
DEFAULT_STORE = "django.contrib.sessions.backends.db"


def _page_sign_in(user) -> tuple[Client, list[str]]:
    """A second sign-in from the same browser and network, as a fresh tab (no session yet)."""
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert Client().post(reverse("accounts:login"), body).status_code == 302
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("accounts:login"), body)
    assert response.status_code == 302
    return client, [q["sql"] for q in queries.captured_queries]


def test_page_sign_in_query_budget(user, settings):
    # user, lockout check, login event + UserSession + sign_in.succeeded event (one
    # statement), Django session
    settings.SESSION_ENGINE = STORE
    _, sql = _page_sign_in(user)
    assert len(sql) == 4, "\n".join(sql)
    assert not {"BEGIN", "COMMIT"} & {s.split()[0] for s in sql}
    assert _one_statement_writes_the_session_and_its_event(sql)


def _one_statement_writes_the_session_and_its_event(sql: list[str]) -> bool:
    both = [s for s in sql if '"identity_event"' in s and '"accounts_usersession"' in s]
    return len(both) == 1 and sum('INSERT INTO "identity_event"' in s for s in sql) == 1


def test_api_sign_in_query_budget(user):
    # user, lockout check, login event, UserSession + its sign_in.succeeded event
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    url = reverse("api:accounts:login")
    assert Client().post(url, body, content_type="application/json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(url, body, content_type="application/json")
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 4, "\n".join(sql)
    assert _one_statement_writes_the_session_and_its_event(sql)


def test_page_sign_in_query_budget_on_django_session_store(user, settings):
    settings.SESSION_ENGINE = DEFAULT_STORE
    _, sql = _page_sign_in(user)
    assert len(sql) <= 13, "\n".join(sql)


def test_session_store_rotates_the_key_and_keeps_the_sign_in(user, settings):
    settings.SESSION_ENGINE = STORE
    client = Client()
    client.get(reverse("accounts:login"))
    session = client.session
    session["before"] = "kept"
    session.save()
    anonymous_key = session.session_key
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert client.post(reverse("accounts:login"), body).status_code == 302
    signed_in_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in_key != anonymous_key  # no session fixation
    assert not Session.objects.filter(session_key=anonymous_key).exists()
    data = Session.objects.get(session_key=signed_in_key).get_decoded()
    assert data["before"] == "kept"
    assert str(UserSession.objects.get(session_key=signed_in_key).pk) == data[SESSION_ID_KEY]
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert LoginEvent.objects.filter(user=user, outcome="success").count() == 1


def test_api_totp_second_step_costs_at_most_two_queries_more_than_a_password_sign_in(
    user_factory,
):
    from tests.mfa import totp_enrol, totp_fresh_code

    plain, with_app = user_factory(), user_factory()
    app = totp_enrol(with_app)
    login, login_mfa = reverse("api:accounts:login"), reverse("api:accounts:login_mfa")

    def password_sign_in(account) -> tuple[int, list[str]]:
        body = {"login": account.username, "password": DEFAULT_PASSWORD}
        with CaptureQueriesContext(connection) as queries:
            response = Client().post(login, body, content_type="application/json")
        return response, [q["sql"] for q in queries.captured_queries]

    def second_step(code: str) -> tuple[int, list[str]]:
        token = password_sign_in(with_app)[0].json()["mfa_token"]
        body = {"mfa_token": token, "method": "totp", "code": code}
        with CaptureQueriesContext(connection) as queries:
            response = Client().post(login_mfa, body, content_type="application/json")
        return response, [q["sql"] for q in queries.captured_queries]

    # Warm caches (roles, claims, known devices): each account has signed in here before.
    assert password_sign_in(plain)[0].status_code == 200
    assert second_step(totp_fresh_code(app))[0].status_code == 200
    response, password_sql = password_sign_in(plain)
    assert response.status_code == 200
    TotpDevice.objects.update(last_used_step=None)  # the current code may be used again
    response, second_sql = second_step(app.now())
    assert response.status_code == 200, response.content
    assert len(second_sql) <= len(password_sql) + 2, "\n".join(second_sql)


def test_page_sign_out_query_budget(user, settings):
    """The browser's session, last seen, the user; the revocation in its transaction (BEGIN,
    the live row locked, its UPDATE, its session.revoked event, COMMIT); sso asking whether
    this browser approved OAuth sign-ins; axes; the Django session read and deleted. 9 before
    sign-outs wrote their event and ended what the browser approved: 5 more."""
    settings.SESSION_ENGINE = STORE
    client, _ = _page_sign_in(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.post(reverse("accounts:logout")).status_code == 302
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= 14, "\n".join(sql)
    assert sum(s.startswith('INSERT INTO "identity_event"') for s in sql) == 1
