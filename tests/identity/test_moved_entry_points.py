"""What moved to the app that owns it (issue 17's layering) kept its path, name and command."""

from __future__ import annotations

import pytest
from django.core.management import get_commands
from django.urls import resolve, reverse


@pytest.mark.parametrize(
    ("name", "path", "module"),
    [
        ("sso:connected_apps", "/accounts/apps/", "sso.views.pages"),
        ("api:sso:signup", "/api/v1/auth/signup/", "sso.api.views"),
        ("openid_configuration", "/.well-known/openid-configuration", "sso.views.discovery"),
        (
            "oauth_authorization_server",
            "/.well-known/oauth-authorization-server",
            "sso.views.discovery",
        ),
    ],
)
def test_a_moved_url_keeps_its_path_and_lives_in_the_higher_app(name, path, module):
    assert reverse(name) == path
    assert resolve(path).func.__module__ == module


def test_rotate_signing_key_is_a_command_of_accounts():
    assert get_commands()["rotate_signing_key"] == "accounts"
