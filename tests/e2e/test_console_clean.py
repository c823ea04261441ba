"""Every page a user meets loads in Chromium with no console error and no CSP violation."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Page, Response, expect

from accounts.models import User
from sso import services as sso_services
from sso.models import Application
from tests.e2e.conftest import sign_in, sign_in_form_submit
from tests.factories import DEFAULT_PASSWORD, UserFactory

REDIRECT_URI = "https://rp.example.com/callback"
# Recorded by the page itself: Chromium also logs each violation as a console error, but the
# event names the directive, which makes a failure readable.
CSP_RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Watch:
    """Collects what a developer would see in the browser's console while pages load."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.expected_status = 200
        page.add_init_script(CSP_RECORDER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium reports a document's own 4xx as a failed resource: expected on a 404 page.
        own_status = message.location.get("url") == self.page.url and self.expected_status >= 400
        if own_status and message.text.startswith("Failed to load resource"):
            return
        self.problems.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        # The document itself may be a deliberate 4xx; its sub-resources never are.
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} {response.url}")

    def visit(self, path: str, *, status: int = 200) -> list[str]:
        """Loads ``path``, waits for the network to settle; the problems seen on the way."""
        start = len(self.problems)
        self.expected_status = status
        response = self.page.goto(path, wait_until="networkidle")
        found = self.problems[start:]
        if response is None or response.status != status:
            found.append(f"answered {response and response.status}, not {status}")
        found += [f"csp: {v}" for v in self.page.evaluate("window.__csp || []")]
        return [f"{path}: {problem}" for problem in found]


@pytest.fixture
def watch(page: Page) -> Watch:
    return Watch(page)


@pytest.fixture
def signed_in(page: Page) -> User:
    user = UserFactory()
    sign_in(page, user.username)
    return user


@pytest.fixture
def signed_in_admin(page: Page) -> User:
    admin_user = UserFactory(superuser=True)
    page.goto(reverse("admin:login"))
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_be_visible()
    return admin_user


ANONYMOUS_PAGES = [
    "home",
    "accounts:login",
    "accounts:signup",
    "accounts:signup_done",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:verify_email_resend",
    "accounts:logout",
    "api_docs",
    "admin:login",
]

SIGNED_IN_PAGES = [
    "home",
    "accounts:profile",
    "accounts:password_change",
    "accounts:email_change",
    "accounts:delete",
    "accounts:reauthenticate",
    "accounts:sessions",
    "accounts:history",
    "sso:connected_apps",
    "sso:app_list",
    "sso:app_create",
    "accounts:logout",
    "api_docs",
]
APP_PAGES = ["sso:app_detail", "sso:app_update", "sso:app_delete", "sso:app_members"]


def _visit_all(watch: Watch, paths: list[str]) -> list[str]:
    return [problem for path in paths for problem in watch.visit(path)]


def test_anonymous_pages_have_no_console_error(watch: Watch, screenshot) -> None:
    problems = _visit_all(watch, [reverse(name) for name in ANONYMOUS_PAGES])
    problems += watch.visit(reverse("accounts:verify_email", args=["x"]))
    # Error pages too: a dead emailed link (400) and an unknown address (404).
    problems += watch.visit(reverse("accounts:password_reset_confirm", args=["x"]), status=400)
    problems += watch.visit("/no-such-page/", status=404)

    assert not problems, "\n".join(problems)
    screenshot(watch.page, "console-clean-404")


def _authorize_url(app: Application) -> str:
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{reverse('oauth2_provider:authorize')}?{urlencode(query)}"


def _app(owner: User, **fields: object) -> Application:
    app, _ = sso_services.application_create(
        owner=owner,
        name=f"Console check {fields}",
        client_type="confidential",
        redirect_uris=REDIRECT_URI,
        allowed_scopes="openid profile",
        **fields,
    )
    return app


def test_signed_in_pages_have_no_console_error(watch: Watch, signed_in: User) -> None:
    app, restricted = _app(signed_in), _app(signed_in, restricted=True)
    paths = [reverse(name) for name in SIGNED_IN_PAGES]
    paths += [reverse(name, args=[restricted.client_id]) for name in APP_PAGES]
    # The consent page of an authorization request, then the OIDC sign-out question.
    paths += [_authorize_url(app), reverse("oauth2_provider:rp-initiated-logout")]

    problems = _visit_all(watch, paths)
    # A restricted application refuses a non-member with a page of its own.
    problems += watch.visit(_authorize_url(restricted), status=403)

    assert not problems, "\n".join(problems)
    watch.page.goto(_authorize_url(app))
    expect(watch.page.get_by_role("button", name=re.compile("Allow"))).to_be_visible()


def test_forced_password_change_page_has_no_console_error(watch: Watch) -> None:
    user = UserFactory(needs_password_change=True)
    watch.page.goto(reverse("accounts:login"))
    sign_in_form_submit(watch.page, user.username, DEFAULT_PASSWORD)
    expect(watch.page).to_have_url(re.compile(re.escape(reverse("accounts:confirm_account"))))

    problems = watch.visit(reverse("accounts:confirm_account"))

    assert not problems, "\n".join(problems)


def _admin_pages() -> list[str]:
    """The admin's index and, for every registered model, its list and its add form."""
    paths = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths.append(reverse(f"{prefix}_changelist"))
        if model_admin.has_add_permission(_SuperuserRequest()):
            paths.append(reverse(f"{prefix}_add"))
    return paths


class _SuperuserRequest:
    """Just enough of a request for ModelAdmin.has_add_permission (it reads request.user)."""

    user = type("Superuser", (), {"has_perm": lambda self, perm: True})()


def test_admin_pages_have_no_console_error(watch: Watch, signed_in_admin: User) -> None:
    user = UserFactory()
    app, _ = sso_services.application_create(
        owner=user, name="Admin check", client_type="public", redirect_uris=REDIRECT_URI
    )
    paths = [
        *_admin_pages(),
        reverse("admin:accounts_user_change", args=[user.pk]),
        reverse("admin:sso_application_change", args=[app.pk]),
    ]

    problems = _visit_all(watch, paths)

    assert not problems, "\n".join(problems)


def test_api_docs_render_and_expand_with_no_console_error(watch: Watch, screenshot) -> None:
    problems = watch.visit(reverse("api_docs"))
    page = watch.page
    expect(page.get_by_role("heading", name=re.compile("Identity Portal API"))).to_be_visible()
    operation = page.locator(".opblock-summary-control").first
    operation.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    problems += watch.problems + [f"csp: {v}" for v in page.evaluate("window.__csp")]

    assert not problems, "\n".join(dict.fromkeys(problems))
    screenshot(page, "api-docs")
