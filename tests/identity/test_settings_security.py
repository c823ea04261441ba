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


def _start_production(**env: str | None) -> subprocess.CompletedProcess[str]:
    """Imports the production settings with ``env`` (a None value removes the variable)."""
    dropped = {"SECRET_KEY", "DATABASE_URL", "CACHE_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.update({"DJANGO_ENV": "production", "DJANGO_SETTINGS_MODULE": "identity.settings"})
    clean["CACHE_URL"] = "redis://cache:6379/0"
    clean.update(env)
    clean = {k: v for k, v in clean.items() if v is not None}
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


@pytest.mark.parametrize(
    "cache_url",
    [None, "locmemcache://identity", "dummycache://", "filecache:///tmp/identity-cache"],
    ids=["default", "locmem", "dummy", "file"],
)
def test_production_refuses_a_cache_that_other_processes_do_not_share(cache_url):
    """Revoked sign-ins, cached OAuth tokens and permissions, and the rate limits are shared
    through the cache: in a per-process (or per-host, or no) cache, a token revoked through one
    worker or node stays accepted by the others, and each process counts its own attempts."""
    result = _start_production(
        SECRET_KEY="k" * 50,
        ALLOWED_HOSTS="id.example.com",
        DATA_ENCRYPTION_KEY=DATA_KEY,
        DATABASE_URL="postgres://u@db/identity",
        CACHE_URL=cache_url,
    )
    assert result.returncode != 0
    assert "CACHE_URL must name a cache every process shares" in result.stderr


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
    # One process on one host (WEB_CONCURRENCY=1) may keep its cache to itself, when asked.
    single = {
        **base,
        "CACHE_URL": "locmemcache://identity",
        "ALLOW_LOCAL_CACHE_IN_PRODUCTION": "true",
    }
    allowed = _start_production(**single, DATABASE_URL="postgres://u@db/identity")
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
