"""Re-authentication ("sudo mode"): sensitive pages need a sign-in proven in the last
REAUTHENTICATION_SECONDS; the re-authentication page takes the password or a factor, counts
wrong entries towards lockout and comes back to the page that asked."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.errors import ReauthenticationRequired
from accounts.models import LoginEvent, LoginOutcome, OneTimeToken, User, UserSession
from accounts.services.login import user_reauthenticate
from accounts.services.mfa.amr import acr_satisfies
from accounts.services.sessions import SESSION_ID_KEY, session_recently_proven
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import sign_ins_make_stale, totp_code, totp_fresh_code

pytestmark = pytest.mark.django_db

REAUTH = reverse("accounts:reauthenticate")
SENSITIVE_PAGES = ["accounts:password_change", "accounts:email_change", "accounts:delete"]


def _signed_in(client: Client, user: User) -> UserSession:
    """A browser signed in as ``user`` with its recorded sign-in (proven now)."""
    client.force_login(user)
    client.get(reverse("home"))  # UserSessionMiddleware records the sign-in
    return UserSession.objects.get(pk=client.session[SESSION_ID_KEY])


def _stale_client(user: User) -> tuple[Client, UserSession]:
    client = Client()
    session = _signed_in(client, user)
    sign_ins_make_stale(user)
    return client, session


def _reauth_url(next_url: str, **params: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in {"next": next_url, **params}.items())
    return f"{REAUTH}?{query}"


def _recent(session: UserSession) -> bool:
    session.refresh_from_db()
    return session_recently_proven(session=session)


# -- the service ---------------------------------------------------------------------------------


def test_user_reauthenticate_accepts_a_recent_sign_in_and_refuses_a_stale_one(user):
    client = Client()
    session = _signed_in(client, user)
    user_reauthenticate(request=None, user=user, session_id=str(session.pk))
    sign_ins_make_stale(user)
    with pytest.raises(ReauthenticationRequired):
        user_reauthenticate(request=None, user=user, session_id=str(session.pk))


def test_user_reauthenticate_ignores_another_users_or_an_ended_sign_in(user, user_factory):
    other = user_factory()
    others_session = _signed_in(Client(), other)  # recent, but not the user's
    with pytest.raises(ReauthenticationRequired):
        user_reauthenticate(request=None, user=user, session_id=str(others_session.pk))
    own = _signed_in(Client(), user)
    UserSession.objects.filter(pk=own.pk).update(revoked_at=own.created_at)
    with pytest.raises(ReauthenticationRequired):
        user_reauthenticate(request=None, user=user, session_id=str(own.pk))


def test_user_reauthenticate_with_a_code_renews_and_steps_up_the_sign_in(totp_user):
    user, app = totp_user
    _, session = _stale_client(user)
    code = totp_fresh_code(app)
    user_reauthenticate(request=None, user=user, code=code, session_id=str(session.pk))
    assert _recent(session)
    assert session.amr == "pwd otp"
    assert acr_satisfies(session.amr, "mfa")


# -- pages that need a recent proof ------------------------------------------------------------


@pytest.mark.parametrize("name", SENSITIVE_PAGES)
def test_sensitive_page_opens_with_a_recent_proof(client, user, name):
    _signed_in(client, user)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", SENSITIVE_PAGES)
def test_sensitive_page_with_a_stale_proof_asks_to_reauthenticate(user, name):
    client, _ = _stale_client(user)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url == f"{REAUTH}?next={reverse(name).replace('/', '%2F')}"


def test_stale_post_is_sent_to_reauthenticate_and_changes_nothing(user, mailoutbox):
    client, _ = _stale_client(user)
    deleted = client.post(reverse("accounts:delete"), {"confirm": "on"})
    assert deleted.url.startswith(REAUTH + "?next=")
    assert User.objects.filter(pk=user.pk).exists()
    moved = client.post(reverse("accounts:email_change"), {"new_email": "thief@example.com"})
    assert moved.url.startswith(REAUTH + "?next=")
    assert not OneTimeToken.objects.filter(email="thief@example.com").exists()
    assert mailoutbox == []


def test_sensitive_page_without_a_recorded_sign_in_asks_to_reauthenticate(client, user):
    """A browser session with no sign-in row (none recorded yet) has proven nothing recently."""
    client.force_login(user)
    response = client.get(reverse("accounts:delete"))
    assert response.url.startswith(REAUTH + "?next=")


def test_reauthenticate_page_needs_a_signed_in_user(client):
    response = client.get(_reauth_url("/accounts/delete/"))
    assert response.url.startswith(reverse("accounts:login") + "?next=")


# -- proving on the page -------------------------------------------------------------------------


def test_password_on_the_page_renews_the_proof_and_comes_back(user):
    client, session = _stale_client(user)
    page = client.get(_reauth_url("/accounts/delete/"))
    assert "Confirm it's you" in page.content.decode()
    assert 'autocomplete="current-password"' in page.content.decode()
    response = client.post(REAUTH, {"password": DEFAULT_PASSWORD, "next": "/accounts/delete/"})
    assert response.url == "/accounts/delete/"
    assert _recent(session)
    assert client.get(reverse("accounts:delete")).status_code == 200
    deleted = client.post(reverse("accounts:delete"), {"confirm": "on"})
    assert deleted.url == reverse("accounts:login")
    assert not User.objects.filter(pk=user.pk).exists()


def test_authenticator_code_on_the_page_renews_the_proof(totp_user):
    user, app = totp_user
    client, session = _stale_client(user)
    page = client.get(_reauth_url("/accounts/email/", method="code"))
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert 'name="password"' not in page.content.decode()
    response = client.post(
        REAUTH, {"code": totp_fresh_code(app), "method": "code", "next": "/accounts/email/"}
    )
    assert response.url == "/accounts/email/"
    assert _recent(session)
    assert session.amr == "pwd otp"


def test_recovery_code_on_the_page_renews_the_proof_once(totp_user):
    user, app = totp_user
    client, session = _stale_client(user)
    code = app.recovery_codes[0]
    response = client.post(REAUTH, {"code": code, "method": "code", "next": "/accounts/email/"})
    assert response.url == "/accounts/email/"
    assert _recent(session)
    sign_ins_make_stale(user)
    again = client.post(REAUTH, {"code": code, "method": "code", "next": "/accounts/email/"})
    assert again.status_code == 200
    assert again.context["form"].errors["code"] == ["The code is not valid."]
    assert not _recent(session)


def test_page_offers_a_code_only_to_a_user_with_a_factor(client, user_factory, totp_user):
    _signed_in(client, user_factory())
    assert "Use a code from your authenticator app" not in client.get(REAUTH).content.decode()
    other = Client()
    _signed_in(other, totp_user[0])
    page = other.get(_reauth_url("/accounts/delete/")).content.decode()
    assert "Use a code from your authenticator app or a recovery code instead" in page
    assert "method=code" in page


def test_wrong_passwords_and_codes_count_and_lock_out_after_five(totp_user):
    user, app = totp_user
    client, session = _stale_client(user)
    for _ in range(2):
        wrong = client.post(REAUTH, {"password": "not my password"})
        assert wrong.context["form"].errors["password"] == ["Your current password is not correct."]
    for _ in range(2):
        wrong = client.post(REAUTH, {"code": "000000", "method": "code"})
        assert wrong.context["form"].errors["code"] == ["The code is not valid."]
    locked = client.post(REAUTH, {"code": "000000", "method": "code"})
    assert locked.status_code == 429
    assert "Sign-in temporarily blocked" in locked.content.decode()
    # Locked: neither the right code nor the right password proves anything now.
    assert client.post(REAUTH, {"code": totp_code(app), "method": "code"}).status_code == 429
    assert client.post(REAUTH, {"password": DEFAULT_PASSWORD}).status_code == 429
    assert not _recent(session)
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).count() == 3
    # The same counter as the sign-in page's: signing in again from here is refused too.
    login = Client().post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 429


# -- acr: the step-up an OAuth client asks for --------------------------------------------------


def test_acr_mfa_refuses_the_password_and_takes_a_factor(totp_user):
    user, app = totp_user
    client, session = _stale_client(user)
    page = client.get(_reauth_url("/accounts/security/", acr="mfa")).content.decode()
    assert 'name="password"' not in page
    assert "Use your password instead" not in page
    refused = client.post(
        REAUTH, {"password": DEFAULT_PASSWORD, "acr": "mfa", "next": "/accounts/security/"}
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["code"]
    assert not _recent(session)
    assert not acr_satisfies(session.amr, "mfa")

    proven = client.post(
        REAUTH, {"code": totp_fresh_code(app), "acr": "mfa", "next": "/accounts/security/"}
    )
    assert proven.url == "/accounts/security/"
    session.refresh_from_db()
    assert acr_satisfies(session.amr, "mfa")


def test_acr_phr_takes_neither_password_nor_code(totp_user):
    user, app = totp_user
    client, session = _stale_client(user)
    page = client.get(_reauth_url("/accounts/security/", acr="phr")).content.decode()
    assert "no passkey yet" in page
    for data in ({"password": DEFAULT_PASSWORD}, {"code": app.now(), "method": "code"}):
        response = client.post(REAUTH, {**data, "acr": "phr", "next": "/accounts/security/"})
        assert response.status_code == 200
    session.refresh_from_db()
    assert not _recent(session)
    assert not acr_satisfies(session.amr, "phr")


def test_acr_mfa_without_a_factor_says_how_to_add_one(client, user):
    _signed_in(client, user)
    page = client.get(_reauth_url("/o/authorize/", acr="mfa")).content.decode()
    assert "no second factor yet" in page
    assert reverse("accounts:security") in page


# -- next ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"],
)
def test_next_outside_the_site_is_refused(user, next_url):
    client, session = _stale_client(user)
    page = client.get(REAUTH, {"next": next_url})
    assert "evil.example" not in page.content.decode()
    response = client.post(REAUTH, {"password": DEFAULT_PASSWORD, "next": next_url})
    assert response.url == reverse("accounts:security")
    assert _recent(session)


def test_next_to_an_authorization_request_keeps_its_query(client, user):
    _signed_in(client, user)
    next_url = "/o/authorize/?client_id=abc&response_type=code&acr_values=mfa"
    page = client.get(REAUTH, {"next": next_url})
    assert 'value="/o/authorize/?client_id=abc&amp;response_type=code&amp;acr_values=mfa"' in (
        page.content.decode()
    )
    back = client.post(REAUTH, {"password": DEFAULT_PASSWORD, "next": next_url})
    assert back.url == next_url
    assert parse_qs(urlsplit(back.url).query)["acr_values"] == ["mfa"]
    assert not list(get_messages(back.wsgi_request))
