"""No way around the second factor: every path that checks a password stops at the pending step.

The resource-owner password grant (RFC 6749 §4.3) would take a password and hand out tokens
with no second step: RFC 9700 §2.4 says it MUST NOT be used, and the portal refuses it even for
an application an administrator switched to it (DOT's COMPLIANT_BCP_RFC9700_PASSWORD_GRANT,
set in identity/settings.py). A password reset changes the password, not the
factors: the next sign-in still asks for one (ASVS 5.0 V6.4.3).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from oauth2_provider.models import AbstractApplication

from accounts.models import UserSession
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import totp_enrol, totp_fresh_code
from tests.sso.conftest import basic, register

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("with_factor", [True, False])
def test_password_grant_gives_no_tokens_even_when_an_admin_enables_it(
    client, user, owner, with_factor
):
    if with_factor:
        totp_enrol(user)
    rp = register(owner)
    rp.app.authorization_grant_type = AbstractApplication.GRANT_PASSWORD
    rp.app.save(update_fields=["authorization_grant_type"])
    response = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "password", "username": user.username, "password": DEFAULT_PASSWORD},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert response.status_code in {400, 401}
    assert "access_token" not in response.json()
    assert response.json()["error"] in {"unsupported_grant_type", "unauthorized_client"}
    assert not UserSession.objects.filter(user=user).exists()


def test_password_reset_does_not_remove_the_second_factor(api, user, mailoutbox):
    app = totp_enrol(user)
    api.post(reverse("api:accounts:password_reset"), {"login": user.username}, format="json")
    code = re.search(r"^([2-9A-Z]{8,})$", mailoutbox[-1].body, re.MULTILINE).group(1)
    new_password = "a brand new passphrase 77"
    done = api.post(
        reverse("api:accounts:password_reset_confirm"),
        {"login": user.username, "code": code, "new_password": new_password},
        format="json",
    )
    assert done.status_code == 204, done.json()
    response = api.post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": new_password},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    assert "access_token" not in response.json()
    second = api.post(
        reverse("api:accounts:login_mfa"),
        {"mfa_token": response.json()["mfa_token"], "method": "totp", "code": totp_fresh_code(app)},
        format="json",
    )
    assert second.status_code == 200  # the app set up before the reset still signs in
