"""Production settings: Argon2id parameters, refusal to start without secrets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.hashers import get_hasher, identify_hasher, make_password


def test_production_hashes_with_argon2id_at_owasp_parameters():
    hasher = get_hasher("argon2")
    assert settings.PRODUCTION_PASSWORD_HASHERS[0] == "accounts.hashers.Argon2idHasher"
    encoded = make_password("correct horse battery staple", hasher=hasher)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert identify_hasher(encoded).verify("correct horse battery staple", encoded)


def _start_production(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    clean.update({"DJANGO_ENV": "production", "DJANGO_SETTINGS_MODULE": "identity.settings"})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


DATA_KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "id.example.com", "DATABASE_URL": "postgres://x/y"}, "SECRET_KEY"),
        (
            {"SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "h", "DATABASE_URL": "postgres://x/y"},
            "DATA_ENCRYPTION_KEY must be set",
        ),
        (
            {
                "SECRET_KEY": "k" * 50,
                "ALLOWED_HOSTS": "h",
                "DATABASE_URL": "postgres://x/y",
                "DATA_ENCRYPTION_KEY": "not-a-fernet-key",
            },
            "must be Fernet keys",
        ),
        ({"SECRET_KEY": "k" * 50, "DATABASE_URL": "postgres://x/y"}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "id.example.com"}, "DATABASE_URL"),
        (
            {"SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "h", "DATABASE_URL": "sqlite:////tmp/x.db"},
            "DATABASE_URL",
        ),
    ],
)
def test_production_refuses_to_start_without_required_settings(env, message):
    result = _start_production(**{"ALLOWED_HOSTS": "", **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_when_configured_or_sqlite_explicitly_allowed():
    base = {
        "SECRET_KEY": "k" * 50,
        "ALLOWED_HOSTS": "id.example.com",
        "DATA_ENCRYPTION_KEY": DATA_KEY,
    }
    assert _start_production(**base, DATABASE_URL="postgres://u@db/identity").returncode == 0
    allowed = _start_production(
        **base, DATABASE_URL="sqlite:////tmp/x.db", ALLOW_SQLITE_IN_PRODUCTION="true"
    )
    assert allowed.returncode == 0, allowed.stderr


def _manage_py_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_manage_py_without_profile_or_secret_uses_development_and_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ENV", "SECRET_KEY"}}
    env.update({"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "identity.settings"})
    result = _manage_py_check(env)
    assert result.returncode == 0, result.stderr
    assert "using the development profile" in result.stderr


def test_manage_py_with_a_secret_key_but_no_profile_stays_production():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ENV", "DATABASE_URL"}}
    env.update(
        {
            "SECRET_KEY": "k" * 50,
            "ALLOWED_HOSTS": "id.example.com",
            "DJANGO_SETTINGS_MODULE": "identity.settings",
        }
    )
    result = _manage_py_check(env)
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
