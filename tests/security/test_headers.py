"""CSRF on every state-changing page, framing, CSP, HSTS, secure cookies and no-store
(ASVS 4.0.3 V3.4.x, V3.5.x, V4.2.2, V8.2.1, V14.4.x / 5.0 V3.3-V3.5, V14.3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.sso.conftest import REDIRECT_URI, exchange, pkce_pair, query
from tests.sso.conftest import authorize as sso_authorize

pytestmark = pytest.mark.django_db

# Endpoints that take no cookie credentials: the client authenticates itself (RFC 6749 §2.3,
# RFC 7009, RFC 7662) or sends a bearer token (OIDC Core §5.3), so CSRF cannot apply.
CSRF_EXEMPT_ALLOWED = {
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:introspect",
    "oauth2_provider:user-info",
}
SAMPLE = {"int": 1, "uuid": uuid.UUID(int=1), "str": "x", "slug": "x", "path": "x"}


def _patterns(resolver: URLResolver = None, namespace: str = "", prefix: str = ""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, ns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry, prefix + str(entry.pattern)


def _url(name: str, entry: URLPattern) -> str | None:
    converters = getattr(entry.pattern, "converters", {})
    kwargs = {}
    for key, converter in converters.items():
        kind = type(converter).__name__.replace("Converter", "").lower()
        kwargs[key] = SAMPLE.get(kind, "x")
    for key in re.findall(r"\(\?P<(\w+)>", str(entry.pattern)):
        kwargs.setdefault(key, "accounts" if key == "app_label" else "1")
    try:
        return reverse(name, kwargs=kwargs)
    except Exception:  # an admin regex this sampler cannot satisfy
        return None


def _uses_session_auth(callback) -> bool:
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    classes = getattr(view, "authentication_classes", ()) or ()
    return any(issubclass(c, SessionAuthentication) for c in classes)


def all_routes() -> list[tuple[str, URLPattern, str]]:
    return [(name, entry, route) for name, entry, route in _patterns()]


def test_every_route_is_csrf_protected_or_an_allowed_exception(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    checked, unexpected = [], []
    for name, entry, route in all_routes():
        url = _url(name, entry)
        if url is None or route.startswith(("static", "__")):
            continue
        exempt = getattr(entry.callback, "csrf_exempt", False)
        if route.startswith("api/"):
            if not _uses_session_auth(entry.callback):
                continue  # no cookie is read: nothing for a forged request to ride on
        elif exempt:
            if name not in CSRF_EXEMPT_ALLOWED:
                unexpected.append(name)
            continue
        response = client.post(url, {"x": "1"})
        if response.status_code not in (403, 405):
            unexpected.append(f"{name} -> {response.status_code}")
        checked.append(name)
    assert not unexpected, unexpected
    for must in ("accounts:login", "accounts:logout", "accounts:password_change", "sso:app_create"):
        assert must in checked
    assert "oauth2_provider:authorize" in checked
    assert "admin:login" in checked
    assert "api:accounts:me" in checked


def test_state_changing_page_without_token_is_refused(csrf_client, user):
    csrf_client.force_login(user)
    for name in ("accounts:logout", "accounts:delete", "accounts:profile", "accounts:email_change"):
        assert csrf_client.post(reverse(name), {"password": user.raw_password}).status_code == 403
    assert UserFactory._meta.model.objects.filter(pk=user.pk).exists()


def test_session_authenticated_api_write_needs_the_csrf_token(csrf_client, user):
    csrf_client.force_login(user)
    response = csrf_client.patch(
        reverse("api:accounts:me_profile"), {"first_name": "X"}, content_type="application/json"
    )
    assert response.status_code == 403


# -- framing and CSP -----------------------------------------------------------------------

PAGES = ["accounts:login", "accounts:signup", "accounts:password_reset", "home"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_refuse_framing_and_inline_script(client, name):
    response = client.get(reverse(name), follow=True)
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in csp.split(";") if part.strip()
    )
    assert directives["frame-ancestors"] == "'none'"
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "*" not in script_src.split()
    assert "object-src" in directives
    assert response["X-Content-Type-Options"] == "nosniff"


def test_api_and_admin_refuse_framing(admin_client):
    for url in (reverse("admin:index"), reverse("api_docs")):
        response = admin_client.get(url)
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_no_template_holds_an_inline_script_or_handler():
    root = Path(django_settings.BASE_DIR) / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.IGNORECASE):
            offenders.append(f"{path}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE):
            offenders.append(f"{path}: inline event handler")
        if re.search(r"javascript:", text, re.IGNORECASE):
            offenders.append(f"{path}: javascript: URL")
    assert not offenders, offenders


# -- production profile --------------------------------------------------------------------

PRODUCTION_PROBE = """
import json, django
from django.conf import settings
django.setup()
names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
         "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "DEBUG", "X_FRAME_OPTIONS",
         "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY"]
print(json.dumps({n: getattr(settings, n) for n in names}))
"""


@pytest.fixture(scope="module")
def production_settings() -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "SESSION_", "DEBUG"))
    }
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="identity.settings",
        SECRET_KEY="x" * 50,
        DATA_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"),
        CACHE_URL="redis://127.0.0.1:6379/0",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_profile_sets_hsts_and_secure_cookies(production_settings):
    assert production_settings["SECURE_HSTS_SECONDS"] >= 31536000
    assert production_settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production_settings["SECURE_SSL_REDIRECT"] is True
    assert production_settings["SESSION_COOKIE_SECURE"] is True
    assert production_settings["CSRF_COOKIE_SECURE"] is True
    assert production_settings["SESSION_COOKIE_HTTPONLY"] is True
    assert production_settings["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert production_settings["DEBUG"] is False
    assert production_settings["X_FRAME_OPTIONS"] == "DENY"


def test_production_responses_carry_hsts_and_secure_cookies(settings, production_settings, user):
    for name in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT"):
        setattr(settings, name, production_settings[name])
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY"):
        setattr(settings, name, production_settings[name])
    client = Client()
    assert client.get(reverse("accounts:login")).status_code == 301  # http -> https
    login_page = client.get(reverse("accounts:login"), secure=True)
    assert "max-age=31536000" in login_page["Strict-Transport-Security"]
    assert "includeSubDomains" in login_page["Strict-Transport-Security"]
    signed_in = client.post(
        reverse("accounts:login"),
        {"username": user.username, "password": user.raw_password},
        secure=True,
    )
    session = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    assert login_page.cookies[settings.CSRF_COOKIE_NAME]["secure"]


# -- Cache-Control: no-store ---------------------------------------------------------------


def assert_no_store(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response)


def test_api_token_responses_are_not_stored(user):
    api = APIClient()
    login = api.post(
        reverse("api:accounts:login"),
        {"login": user.username, "password": user.raw_password},
        format="json",
    )
    assert_no_store(login)
    tokens = login.json()
    assert_no_store(
        api.post(
            reverse("api:accounts:refresh"),
            {"refresh_token": tokens["refresh_token"]},
            format="json",
        )
    )
    assert_no_store(
        api.get(
            reverse("api:accounts:token"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
        )
    )
    # Refusals of those endpoints too: an error body is no less private.
    assert_no_store(
        api.post(reverse("api:accounts:refresh"), {"refresh_token": "x"}, format="json")
    )


def test_api_confirm_account_response_is_not_stored():
    user = UserFactory(needs_password_change=True)
    response = APIClient().post(
        reverse("api:accounts:confirm_account"),
        {
            "login": user.username,
            "old_password": user.raw_password,
            "new_password": "a fresh passphrase 2024",
        },
        format="json",
    )
    assert response.status_code == 200
    assert_no_store(response)


def test_oauth_token_response_is_not_stored(client, rp, user):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    code = query(sso_authorize(client, rp, challenge=challenge))["code"]
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 200
    assert_no_store(response)


def test_client_secret_responses_are_not_stored(user, signed_in_api):
    api = signed_in_api(user)
    created = api.post(
        reverse("api:sso:applications"),
        {"name": "Secret app", "client_type": "confidential", "redirect_uris": [REDIRECT_URI]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["client_secret"]
    assert_no_store(created)
    rotated = api.post(
        reverse("api:sso:application_rotate_secret", args=[created.json()["client_id"]])
    )
    assert rotated.json()["client_secret"]
    assert_no_store(rotated)


def test_page_showing_a_new_client_secret_is_not_stored(client, user):
    client.force_login(user)
    created = client.post(
        reverse("sso:app_create"),
        {
            "name": "Page app",
            "kind": "confidential",
            "redirect_uris": REDIRECT_URI,
            "allowed_scopes": ["openid"],
        },
        follow=True,
    )
    assert created.context["client_secret"], created.content
    assert_no_store(created)


@pytest.mark.parametrize(
    "name", ["accounts:login", "accounts:password_change", "accounts:delete", "accounts:profile"]
)
def test_pages_with_secrets_or_personal_data_are_not_stored(client, user, name):
    client.force_login(user) if name != "accounts:login" else None
    assert_no_store(client.get(reverse(name)))


def test_reset_and_verify_link_pages_are_not_stored(client, user):
    from accounts.models import OneTimeToken
    from accounts.services.secrets import secret_issue

    raw, _ = secret_issue(
        user=user,
        purpose=OneTimeToken.Purpose.PASSWORD_RESET,
        ttl=django_settings.PASSWORD_RESET_LINK_TTL,
    )
    assert_no_store(client.get(reverse("accounts:password_reset_confirm", args=[raw])))
    assert_no_store(client.get(reverse("accounts:verify_email", args=["x" * 40])))
