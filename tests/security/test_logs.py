"""Secrets never reach the logs: every record of full flows, at DEBUG, on every logger, holds
no password, token, code, verifier or client secret (ASVS 4.0.3 V7.1.1, V7.1.2, V8.3.4 /
5.0 V16.2.5)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from identity.logfilters import redact
from tests.factories import UserFactory
from tests.security.conftest import fresh_ip
from tests.sso.conftest import authorize, basic, exchange, pkce_pair, query

pytestmark = pytest.mark.django_db

PASSWORD = "sign-up passphrase 4711"
NEW_PASSWORD = "changed passphrase 8812"
RESET_PASSWORD = "reset passphrase 9923"
CODE_PASSWORD = "code passphrase 1034"


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        extras = {k: v for k, v in vars(record).items() if k not in logging.LogRecord.__dict__}
        self.lines.append(f"{text} {extras!r}")


@pytest.fixture
def captured(caplog, settings) -> Iterator[Everything]:
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0
    caplog.set_level(logging.DEBUG)
    handler = Everything()
    # Every logger at DEBUG, except the levels the project pins in LOGGING (the deployed
    # configuration: e.g. oauthlib stays at INFO because its DEBUG prints grants).
    pinned = {
        name
        for name, conf in settings.LOGGING.get("loggers", {}).items()
        if "level" in conf and not name.startswith("django")
    }
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        if not any(lg.name == p or lg.name.startswith(p + ".") for p in pinned):
            lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    # Loggers that do not propagate get the handler themselves.
    quiet = [lg for lg in loggers[1:] if not lg.propagate]
    for lg in quiet:
        lg.addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for lg in quiet:
        lg.removeHandler(handler)
    for lg, level in saved:
        lg.setLevel(level)


def _link(body: str, kind: str) -> str:
    return re.search(rf"/accounts/{kind}/([\w-]+)/", body).group(1)


def _code(body: str) -> str:
    return re.search(r"code \(it expires[^\n]*\n\n(\S+)", body).group(1)


def test_full_flows_log_no_secret(captured, caplog, mailoutbox, django_capture_on_commit_callbacks):
    secrets: set[str] = {PASSWORD, NEW_PASSWORD, RESET_PASSWORD, CODE_PASSWORD}
    api, browser = APIClient(REMOTE_ADDR=fresh_ip()), Client()

    # sign-up (page and API) and verification
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            reverse("api:sso:signup"),
            {"username": "logged.one", "email": "one@example.com", "password": PASSWORD},
            format="json",
        )
    verify = _link(mailoutbox[-1].body, "verify-email")
    secrets.add(verify)
    browser.post(reverse("accounts:verify_email", args=[verify]))
    browser.post(reverse("accounts:verify_email", args=[verify]))  # used: a 400 with the path

    # sign-in on the page (a wrong try first) and the API, refresh, token info, logout
    browser.post(
        reverse("accounts:login"), {"username": "logged.one", "password": "wrong" + PASSWORD}
    )
    browser.post(reverse("accounts:login"), {"username": "logged.one", "password": PASSWORD})
    tokens = api.post(
        reverse("api:accounts:login"), {"login": "logged.one", "password": PASSWORD}, format="json"
    ).json()
    secrets.update(tokens[k] for k in ("access_token", "refresh_token", "id_token"))
    rotated = api.post(
        reverse("api:accounts:refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    secrets.update(rotated[k] for k in ("access_token", "refresh_token"))
    api.post(
        reverse("api:accounts:refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    api.get(reverse("api:accounts:token"), HTTP_AUTHORIZATION=f"Bearer {rotated['access_token']}")
    api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")

    # password change (page), then reset by link (page) and by code (API)
    browser.post(
        reverse("accounts:password_change"),
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(reverse("accounts:password_reset"), {"login": "logged.one"})
    link = _link(mailoutbox[-1].body, "password-reset")
    secrets.update({link, _code(mailoutbox[-1].body)})
    browser.get(reverse("accounts:password_reset_confirm", args=[link]))
    browser.post(
        reverse("accounts:password_reset_confirm", args=[link]),
        {"new_password": RESET_PASSWORD, "new_password_confirm": RESET_PASSWORD},
    )
    browser.get(reverse("accounts:password_reset_confirm", args=[link]))  # used: a 400
    api.post(reverse("api:accounts:password_reset"), {"login": "logged.one"}, format="json")
    code = _code(mailoutbox[-1].body)
    secrets.add(code)
    api.post(
        reverse("api:accounts:password_reset_confirm"),
        {"login": "logged.one", "code": code, "new_password": CODE_PASSWORD},
        format="json",
    )

    # OAuth code flow with a client secret, userinfo, introspection, revocation
    from tests.sso.conftest import register

    rp = register(UserFactory())
    secrets.add(rp.secret)
    user = UserFactory()
    oauth = Client()
    oauth.force_login(user)
    verifier, challenge = pkce_pair()
    code = query(authorize(oauth, rp, challenge=challenge))["code"]
    secrets.update({verifier, code})
    grant = exchange(oauth, rp, code, verifier).json()
    secrets.update(grant[k] for k in ("access_token", "refresh_token", "id_token"))
    exchange(oauth, rp, code, verifier)  # a replayed code
    oauth.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {grant['access_token']}"
    )
    oauth.post(
        reverse("oauth2_provider:introspect"),
        {"token": grant["access_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    oauth.post(
        reverse("oauth2_provider:introspect"),
        {
            "token": grant["access_token"],
            "client_id": rp.client_id,
            "client_secret": rp.secret + "x",
        },
    )
    oauth.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": grant["refresh_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )

    logged = "\n".join(captured.lines + [r.getMessage() for r in caplog.records])
    assert captured.lines, "the flows logged nothing: the capture is broken"
    assert "[redacted]" in logged  # the used links did reach django.request, redacted
    leaked = sorted(s for s in secrets if s and s in logged)
    where = [line[:300] for line in logged.splitlines() if any(s in line for s in leaked)]
    assert not leaked, where


def test_redaction_keeps_fixed_paths_readable():
    token = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"
    assert token not in redact(f"Bad Request: /accounts/password-reset/{token}/")
    assert token not in redact(f'"GET /accounts/verify-email/{token}/ HTTP/1.1" 200')
    assert redact("/accounts/password-reset/done/") == "/accounts/password-reset/done/"
    assert redact("/accounts/verify-email/resend/") == "/accounts/verify-email/resend/"
