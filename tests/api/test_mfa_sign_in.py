"""The API's multi-factor sign-in: 403 mfa_required with an mfa_token, then /auth/login/mfa/."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, LoginEvent, LoginOutcome, PendingSignIn, UserSession
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.mfa import totp_code, totp_enrol, totp_fresh_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("api:accounts:login")
LOGIN_MFA = reverse("api:accounts:login_mfa")
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


def password_step(api, user, password: str = DEFAULT_PASSWORD):
    return api.post(LOGIN, {"login": user.username, "password": password}, format="json")


def mfa_token(api, user) -> str:
    response = password_step(api, user)
    assert response.status_code == 403, response.content
    return response.json()["mfa_token"]


def second_step(api, token: str, code: str, method: str = "totp"):
    return api.post(LOGIN_MFA, {"mfa_token": token, "method": method, "code": code}, format="json")


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    assert "access_token" not in body
    return body


def test_login_with_a_factor_answers_mfa_required_without_tokens(api, totp_user):
    user, _app = totp_user
    body = problem(password_step(api, user), 403, "mfa_required")
    assert set(body) == PROBLEM_KEYS | {"mfa_token", "methods"}
    assert body["methods"] == ["totp", "recovery_code"]
    assert len(body["mfa_token"]) >= 40
    assert not UserSession.objects.filter(user=user).exists()
    assert not LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS).exists()


def test_login_mfa_with_a_totp_code_issues_tokens_with_amr(api, totp_user):
    user, app = totp_user
    token = mfa_token(api, user)
    response = second_step(api, token, totp_fresh_code(app))
    assert response.status_code == 200, response.content
    data = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(data)
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    session = UserSession.objects.get(user=user)
    assert (session.channel, session.amr) == (Channel.API, "pwd otp")
    event = LoginEvent.objects.get(user=user, outcome=LoginOutcome.SUCCESS)
    assert (event.channel, event.amr) == (Channel.API, "pwd otp")
    claims = jwt.decode(data["access_token"], options={"verify_signature": False})
    assert claims["sid"] == str(session.pk)
    me = api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=f"Bearer {data['access_token']}")
    assert me.status_code == 200


def test_login_mfa_with_a_recovery_code_works_once(api, totp_user, mailoutbox):
    user, app = totp_user
    code = app.recovery_codes[0]
    response = second_step(api, mfa_token(api, user), code, method="recovery_code")
    assert response.status_code == 200, response.content
    assert UserSession.objects.get(user=user).amr == "pwd rc"
    problem(second_step(api, mfa_token(api, user), code, "recovery_code"), 400, "invalid_code")


def test_login_mfa_token_is_single_use(api, totp_user):
    user, app = totp_user
    token = mfa_token(api, user)
    assert second_step(api, token, totp_fresh_code(app)).status_code == 200
    problem(second_step(api, token, totp_code(app, steps=-1)), 400, "mfa_token_invalid")
    assert UserSession.objects.filter(user=user).count() == 1


def test_login_mfa_token_expires(api, totp_user):
    user, app = totp_user
    token = mfa_token(api, user)
    PendingSignIn.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    problem(second_step(api, token, totp_fresh_code(app)), 400, "mfa_token_invalid")
    assert not UserSession.objects.filter(user=user).exists()


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 300])
def test_login_mfa_unknown_token_is_refused(api, totp_user, token):
    _user, app = totp_user
    response = second_step(api, token, app.now())
    assert response.status_code == 400
    assert response.json()["code"] in {"mfa_token_invalid", "validation_error"}


def test_login_mfa_wrong_code_is_invalid_code_and_counted(api, totp_user):
    user, app = totp_user
    token = mfa_token(api, user)
    wrong = "000000" if app.now() != "000000" else "111111"
    body = problem(second_step(api, token, wrong), 400, "invalid_code")
    assert body["errors"] == [{"field": "code", "code": "invalid_code", "message": body["detail"]}]
    assert PendingSignIn.objects.get().failures == 1
    assert LoginEvent.objects.filter(user=user, outcome=LoginOutcome.BAD_CODE).count() == 1
    assert second_step(api, token, totp_fresh_code(app)).status_code == 200


def test_login_mfa_step_dies_after_five_wrong_codes_and_locks_out(api, totp_user, settings):
    user, app = totp_user
    settings.AXES_FAILURE_LIMIT = 100  # the step's own limit, alone
    token = mfa_token(api, user)
    for _ in range(5):
        problem(second_step(api, token, "999999x"[:6]), 400, "invalid_code")
    problem(second_step(api, token, totp_fresh_code(app)), 400, "mfa_token_invalid")
    assert not UserSession.objects.filter(user=user).exists()


def test_login_mfa_wrong_codes_lock_out_the_username_and_ip(api, totp_user):
    user, app = totp_user
    statuses = []
    for _ in range(5):
        token = mfa_token(api, user)
        statuses.append(second_step(api, token, "123456x"[:6]).status_code)
    assert statuses[:4] == [400] * 4
    assert statuses[4] == 429
    # Locked: the right password and the right code are refused alike.
    problem(password_step(api, user), 429, "locked_out")
    # Another address is not locked out.
    other = api.post(
        LOGIN,
        {"login": user.username, "password": DEFAULT_PASSWORD},
        format="json",
        REMOTE_ADDR="198.51.100.7",
    )
    problem(other, 403, "mfa_required")
    assert second_step(api, other.json()["mfa_token"], totp_fresh_code(app)).status_code == 429


def test_login_mfa_token_of_another_account_proves_nothing_for_it(api, totp_user):
    """An attacker with a victim's mfa_token and their own app's code gets no tokens."""
    victim, _victim_app = totp_user
    attacker = UserFactory()
    attacker_app = totp_enrol(attacker)
    victim_token = mfa_token(api, victim)
    problem(second_step(api, victim_token, attacker_app.now()), 400, "invalid_code")
    assert not UserSession.objects.exists()


def test_login_mfa_browser_token_is_not_an_api_token(client, api, totp_user):
    """The token of a page's pending step (kept in its session) is no mfa_token."""
    from accounts.services.mfa.pending import sign_in_pending_start

    user, app = totp_user
    token = sign_in_pending_start(
        user=user, channel=Channel.BROWSER, identifier=user.username, amr="pwd"
    )
    problem(second_step(api, token, app.now()), 400, "mfa_token_invalid")


def test_login_mfa_webauthn_without_a_passkey_is_invalid_code(api, totp_user):
    user, _app = totp_user
    body = {"mfa_token": mfa_token(api, user), "method": "webauthn", "credential": {"id": "x"}}
    problem(api.post(LOGIN_MFA, body, format="json"), 400, "invalid_code")


def test_login_wrong_password_answers_the_same_with_or_without_mfa(api, totp_user):
    with_mfa, _app = totp_user
    without = UserFactory()
    answers = [password_step(api, user, "wrong password 1") for user in (with_mfa, without)]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert answers[0]["Content-Type"] == answers[1]["Content-Type"]


def test_login_enrollment_required_gives_no_tokens(api, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    staff = UserFactory(staff=True)
    body = problem(password_step(api, staff), 403, "mfa_enrollment_required")
    assert set(body) == PROBLEM_KEYS
    assert not UserSession.objects.filter(user=staff).exists()


def test_confirm_account_with_a_factor_keeps_the_password_until_the_second_step(api):
    user = UserFactory(must_change_password=True)
    totp_enrol(user)
    body = {"login": user.username, "old_password": DEFAULT_PASSWORD, "new_password": "n" * 20}
    problem(
        api.post(reverse("api:accounts:confirm_account"), body, format="json"), 403, "mfa_required"
    )
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert not UserSession.objects.filter(user=user).exists()


def test_confirm_account_with_a_factor_chooses_the_password_with_the_second_step(api):
    user = UserFactory(must_change_password=True)
    app = totp_enrol(user)
    new = "a new passphrase of mine 31"
    body = {"login": user.username, "old_password": DEFAULT_PASSWORD, "new_password": new}
    answer = api.post(reverse("api:accounts:confirm_account"), body, format="json")
    token = answer.json()["mfa_token"]
    code = totp_fresh_code(app)
    # Without the new password the code is not spent: the account must still choose one.
    problem(second_step(api, token, code), 403, "password_change_required")
    weak = {"mfa_token": token, "method": "totp", "code": code, "new_password": "short"}
    assert api.post(reverse("api:accounts:login_mfa"), weak, format="json").status_code == 400
    done = api.post(
        reverse("api:accounts:login_mfa"),
        {"mfa_token": token, "method": "totp", "code": code, "new_password": new},
        format="json",
    )
    assert done.status_code == 200, done.json()
    user.refresh_from_db()
    assert user.check_password(new)
    assert not user.must_change_password
    bearer = f"Bearer {done.json()['access_token']}"
    assert api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=bearer).status_code == 200


def test_login_mfa_ignores_no_new_password_for_an_account_that_needs_none(api, totp_user):
    user, app = totp_user
    body = {
        "mfa_token": mfa_token(api, user),
        "method": "totp",
        "code": totp_fresh_code(app),
        "new_password": "an attempt to change it 55",
    }
    problem(
        api.post(reverse("api:accounts:login_mfa"), body, format="json"), 400, "validation_error"
    )
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_login_mfa_schema_lists_the_problem_members(api):
    schema = api.get(reverse("api_schema"), HTTP_ACCEPT="application/json").json()
    responses = schema["paths"]["/api/v1/auth/login/mfa/"]["post"]["responses"]
    assert {"200", "400", "429"} <= set(responses)
    problem403 = schema["components"]["schemas"]["Problem403"]["properties"]
    assert {"mfa_token", "methods"} <= set(problem403)
    codes400 = schema["components"]["schemas"]["Problem400CodeEnum"]["enum"]
    assert {"invalid_code", "mfa_token_invalid"} <= set(codes400)


def test_login_mfa_is_throttled_like_the_login(api, totp_user, settings):
    user, app = totp_user
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "3/min"}
    token = mfa_token(api, user)  # the password step counts too: one of the three
    assert [second_step(api, token, "000000").status_code for _ in range(2)] == [400, 400]
    problem(second_step(api, token, totp_fresh_code(app)), 429, "throttled")
    assert not UserSession.objects.filter(user=user).exists()
