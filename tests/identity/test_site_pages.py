"""What a new user meets on every page: the icon, the API docs, the links to each area."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def _icon_href(html: str) -> str:
    match = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', html)
    assert match, "no <link rel=icon> in the page"
    return match[1]


def test_favicon_ico_is_served(client: Client) -> None:
    # Browsers ask for /favicon.ico on their own; a 404 is a console error on every page.
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


@pytest.mark.parametrize("name", ["home", "accounts:login", "accounts:signup"])
def test_pages_link_an_icon_that_loads(client: Client, name: str) -> None:
    href = _icon_href(client.get(reverse(name)).content.decode())

    response = client.get(href)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")


def test_api_docs_page_has_no_inline_style_or_script(client: Client) -> None:
    # The CSP forbids inline styles and scripts (no nonce, no hash): the docs page must not
    # need them, or the browser blocks them and logs a violation.
    response = client.get(reverse("api_docs"))

    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"<style\b", html, re.I)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I)
    assert not re.search(r"\sstyle=", html, re.I)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_home_and_navigation_link_the_developer_applications(client: Client, user: User) -> None:
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()

    href = re.escape(reverse("sso:app_list"))
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S)
    assert nav
    assert re.search(rf'<a href="{href}"', nav[0]), "no developer applications link in the nav"
    main = html[html.index("<main") :]
    assert re.search(rf'<a class="tile" href="{href}"', main), "no developer applications tile"


def test_visitors_see_no_developer_applications_link(client: Client) -> None:
    html = client.get(reverse("home")).content.decode()
    assert reverse("sso:app_list") not in html
