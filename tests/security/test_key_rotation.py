"""Rotating SECRET_KEY (the old one moved to SECRET_KEY_FALLBACKS) keeps every confidential
client and every mailed reset code working; a client secret is re-keyed on its first use, so
the fallback can be dropped once every client has been seen."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sso.models import Application
from tests.sso.conftest import basic, register

pytestmark = pytest.mark.django_db

OLD_KEY = "old-secret-key-" + "x" * 40
NEW_KEY = "new-secret-key-" + "y" * 40
NEW_PASSWORD = "a brand new passphrase 7"


def _client_credentials(client, app, secret: str):
    return client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic(app.client_id, secret),
    )


def test_client_secret_survives_a_key_rotation_and_is_rekeyed(client, owner, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    before = Application.objects.get(pk=service.app.pk).client_secret

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert _client_credentials(client, service.app, service.secret).status_code == 200
    assert Application.objects.get(pk=service.app.pk).client_secret != before

    # The fallback retired: the secret was re-keyed on its first use under the new key.
    settings.SECRET_KEY_FALLBACKS = []
    response = _client_credentials(client, service.app, service.secret)
    assert response.status_code == 200, response.content


def test_introspection_client_survives_a_key_rotation_and_is_rekeyed(client, owner, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    rp = register(owner)

    def introspect():
        return client.post(
            reverse("oauth2_provider:introspect"),
            {"token": "unknown"},
            HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
        )

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert introspect().status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert introspect().status_code == 200


def test_a_wrong_secret_is_refused_under_every_key(client, owner, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    service = register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert _client_credentials(client, service.app, "wrong").status_code == 401


def test_reset_code_mailed_before_a_key_rotation_still_works(
    client, user_factory, mailoutbox, settings
):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    user = user_factory()
    client.post(
        reverse("api:accounts:password_reset"),
        {"login": user.email},
        content_type="application/json",
    )
    code = re.search(r"^([2-9A-Z]{10})$", mailoutbox[-1].body, re.MULTILINE).group(1)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    response = client.post(
        reverse("api:accounts:password_reset_confirm"),
        {"login": user.email, "code": code, "new_password": NEW_PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
