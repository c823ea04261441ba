"""The second sign-in step on the pages: the sign-in page, the verify page and the admin."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, LoginEvent, LoginOutcome, PendingSignIn, UserSession
from accounts.services.mfa.pending import PENDING_SESSION_KEY
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.mfa import totp_enrol, totp_fresh_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:login_verify")
AUTHORIZE_NEXT = "/o/authorize/?client_id=abc&response_type=code&scope=openid"


def password_step(client, user, next_url: str = ""):
    url = f"{LOGIN}?{urlencode({'next': next_url})}" if next_url else LOGIN
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    if next_url:
        body["next"] = next_url
    return client.post(url, body)


def verify(client, code: str, method: str = "totp", next_url: str = ""):
    body = {"code": code, "method": method}
    if next_url:
        body["next"] = next_url
    return client.post(VERIFY, body)


def signed_in(client) -> bool:
    return client.get(reverse("accounts:profile")).status_code == 200


def test_login_with_a_factor_goes_to_the_verify_page_without_a_session(client, totp_user):
    user, _app = totp_user
    response = password_step(client, user)
    assert response.status_code == 302
    assert response["Location"] == VERIFY
    assert not signed_in(client)
    assert not UserSession.objects.filter(user=user).exists()
    assert not LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS).exists()
    page = client.get(VERIFY)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'autocomplete="one-time-code"' in html
    assert 'inputmode="numeric"' in html
    assert "Use a recovery code instead" in html
    assert page["Cache-Control"].startswith("max-age=0")


def test_verify_with_the_right_code_signs_in_with_its_amr(client, totp_user):
    user, app = totp_user
    password_step(client, user)
    response = verify(client, totp_fresh_code(app))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in(client)
    session = UserSession.objects.get(user=user)
    assert (session.channel, session.amr) == (Channel.BROWSER, "pwd otp")
    event = LoginEvent.objects.get(user=user, outcome=LoginOutcome.SUCCESS)
    assert (event.channel, event.amr) == (Channel.BROWSER, "pwd otp")
    assert PENDING_SESSION_KEY not in client.session
    # The spent step cannot sign in a second browser.
    assert client.get(VERIFY)["Location"] == reverse("home")


def test_verify_keeps_next_through_the_flow(client, totp_user):
    user, app = totp_user
    response = password_step(client, user, next_url=AUTHORIZE_NEXT)
    assert response["Location"] == f"{VERIFY}?{urlencode({'next': AUTHORIZE_NEXT})}"
    page = client.get(response["Location"])
    assert f'value="{AUTHORIZE_NEXT.replace("&", "&amp;")}"' in page.content.decode()
    done = verify(client, totp_fresh_code(app), next_url=AUTHORIZE_NEXT)
    assert done["Location"] == AUTHORIZE_NEXT


def test_verify_drops_a_next_to_another_site(client, totp_user):
    user, app = totp_user
    password_step(client, user, next_url="https://evil.example/")
    done = verify(client, totp_fresh_code(app), next_url="https://evil.example/")
    assert done["Location"] == reverse("home")


def test_verify_with_a_wrong_code_shows_the_error_and_counts_it(client, totp_user):
    user, _app = totp_user
    password_step(client, user)
    response = verify(client, "000000")
    assert response.status_code == 200
    assert "The code is not valid." in response.content.decode()
    assert PendingSignIn.objects.get(user=user).failures == 1
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).count() == 1
    assert not signed_in(client)


def test_verify_with_a_recovery_code_once(client, totp_user):
    user, app = totp_user
    code = app.recovery_codes[0]
    password_step(client, user)
    page = client.get(f"{VERIFY}?method=recovery_code")
    assert "Recovery code" in page.content.decode()
    assert "Use your authenticator app instead" in page.content.decode()
    assert verify(client, code, method="recovery_code").status_code == 302
    assert UserSession.objects.get(user=user).amr == "pwd rc"
    other = client.__class__()
    password_step(other, user)
    again = verify(other, code, method="recovery_code")
    assert again.status_code == 200
    assert "The code is not valid." in again.content.decode()


def test_verify_step_dies_after_five_wrong_codes(client, totp_user, settings):
    settings.AXES_FAILURE_LIMIT = 100  # the step's own limit, alone
    user, app = totp_user
    password_step(client, user)
    for _ in range(4):
        assert verify(client, "000000").status_code == 200
    response = verify(client, "000000")
    assert response["Location"] == LOGIN
    page = client.get(LOGIN)
    assert "Too many wrong codes. Sign in again." in page.content.decode()
    assert client.get(VERIFY)["Location"] == LOGIN
    assert verify(client, totp_fresh_code(app))["Location"] == LOGIN
    assert not UserSession.objects.filter(user=user).exists()


def test_verify_wrong_codes_lock_out_like_wrong_passwords(client, totp_user):
    user, app = totp_user
    password_step(client, user)
    for _ in range(4):
        assert verify(client, "000000").status_code == 200
    locked = verify(client, "000000")
    assert locked.status_code == 429
    assert "Sign-in temporarily blocked" in locked.content.decode()
    # Locked: neither the right password nor (on a new step) the right code gets in.
    assert password_step(client.__class__(), user).status_code == 429
    assert verify(client, totp_fresh_code(app)).status_code in {302, 429}
    assert not UserSession.objects.filter(user=user).exists()


def test_verify_expired_step_goes_back_to_the_login_page(client, totp_user):
    user, app = totp_user
    password_step(client, user)
    PendingSignIn.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = verify(client, totp_fresh_code(app))
    assert response["Location"] == LOGIN
    assert "expired" in client.get(LOGIN).content.decode()
    assert not UserSession.objects.filter(user=user).exists()


def test_verify_without_a_pending_step_goes_to_the_login_page(client):
    assert client.get(VERIFY)["Location"] == LOGIN
    assert client.post(VERIFY, {"code": "123456"})["Location"] == LOGIN


def test_verify_refuses_an_api_mfa_token_put_in_the_session(client, totp_user):
    """A pending step of another channel is not this page's, even in its session."""
    from accounts.services.mfa.pending import sign_in_pending_start

    user, app = totp_user
    session = client.session
    session[PENDING_SESSION_KEY] = sign_in_pending_start(
        user=user, channel=Channel.API, identifier=user.username, amr="pwd"
    )
    session.save()
    assert verify(client, totp_fresh_code(app))["Location"] == LOGIN
    assert not UserSession.objects.exists()


def test_login_of_an_account_that_must_enrol_creates_no_session(client, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    staff = UserFactory(staff=True)
    response = password_step(client, staff)
    if response.status_code == 302:  # the enrolment page, once it exists
        assert response["Location"].startswith(reverse("accounts:login_enrol"))
    else:
        assert "must set up a second factor" in response.content.decode()
    assert not signed_in(client)
    assert not UserSession.objects.filter(user=staff).exists()
    assert not LoginEvent.objects.filter(user=staff, outcome=LoginOutcome.SUCCESS).exists()


# -- the Django admin -------------------------------------------------------------------------


def admin_sign_in(client, user):
    body = {"username": user.username, "password": DEFAULT_PASSWORD, "next": "/admin/"}
    return client.post(f"{reverse('admin:login')}?next=/admin/", body)


def test_admin_login_with_a_factor_goes_through_the_verify_page(client):
    staff = UserFactory(superuser=True)
    app = totp_enrol(staff)
    response = admin_sign_in(client, staff)
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?{urlencode({'next': '/admin/'})}"
    # No admin session before the code.
    assert client.get(reverse("admin:index")).status_code == 302
    assert not UserSession.objects.filter(user=staff).exists()
    done = verify(client, totp_fresh_code(app), next_url="/admin/")
    assert done["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200
    session = UserSession.objects.get(user=staff)
    assert (session.channel, session.amr) == (Channel.ADMIN, "pwd otp")
    events = LoginEvent.objects.filter(user=staff, outcome=LoginOutcome.SUCCESS)
    assert [(e.channel, e.amr) for e in events] == [(Channel.ADMIN, "pwd otp")]


def test_admin_login_with_a_wrong_code_gives_no_admin_session(client):
    staff = UserFactory(superuser=True)
    totp_enrol(staff)
    admin_sign_in(client, staff)
    assert verify(client, "000000", next_url="/admin/").status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302
    assert not UserSession.objects.filter(user=staff).exists()


def test_admin_login_of_staff_without_a_factor_when_required_is_refused(client, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    staff = UserFactory(superuser=True)
    response = admin_sign_in(client, staff)
    if response.status_code == 302:  # the enrolment page, once it exists
        assert response["Location"].startswith(reverse("accounts:login_enrol"))
    else:
        assert "must set up a second factor" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302
    assert not UserSession.objects.filter(user=staff).exists()


def test_admin_login_without_a_factor_is_unchanged(client):
    staff = UserFactory(superuser=True)
    assert admin_sign_in(client, staff)["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200
    assert UserSession.objects.get(user=staff).channel == Channel.ADMIN


def test_authorization_request_continues_after_the_second_step(client, totp_user, user_factory):
    """OAuth's authorize sends the browser through the sign-in with next=/o/authorize/?...;
    the verify page keeps it, and the client gets its code only after the second factor."""
    from tests.sso.conftest import authorize, pkce_pair, query, register

    user, app = totp_user
    rp = register(user_factory())
    _verifier, challenge = pkce_pair()
    to_login = authorize(client, rp, challenge=challenge)
    assert to_login.status_code == 302
    login_url = to_login["Location"]
    assert login_url.startswith(LOGIN)
    next_url = query(to_login)["next"]
    to_verify = client.post(
        login_url, {"username": user.username, "password": DEFAULT_PASSWORD, "next": next_url}
    )
    assert to_verify["Location"] == f"{VERIFY}?{urlencode({'next': next_url})}"
    assert client.get(to_verify["Location"]).status_code == 200
    back = verify(client, totp_fresh_code(app), next_url=next_url)
    assert back["Location"] == next_url
    done = authorize(client, rp, challenge=challenge)
    assert done.status_code == 302
    assert "code" in query(done)


def test_verify_page_of_a_passkey_user_without_the_app_asks_for_a_recovery_code(client):
    """A passkey (made here as a row: the ceremony is the passkeys feature's) and recovery
    codes, no app: the page offers the passkey and a recovery code, never an app's code."""
    from accounts.models import Passkey
    from accounts.services.mfa import user_mfa_refresh
    from accounts.services.mfa.recovery import recovery_codes_replace

    user = UserFactory()
    Passkey.objects.create(user=user, name="Laptop", credential_id="cred-1", public_key=b"k")
    user_mfa_refresh(user=user)
    codes = recovery_codes_replace(user=user)
    assert password_step(client, user)["Location"] == VERIFY
    html = client.get(VERIFY).content.decode()
    assert "Recovery code" in html
    assert "authenticator app" not in html
    assert verify(client, codes[0], method="recovery_code")["Location"] == reverse("home")
    assert UserSession.objects.get(user=user).amr == "pwd rc"
