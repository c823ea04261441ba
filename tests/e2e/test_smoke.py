"""Smoke tests proving the browser harness: Chromium, live server, static files, email."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.mail import EmailMessage, send_mail
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from playwright.sync_api import Page


def test_healthz_loads_in_chromium(page: Page, screenshot: Callable[[Page, str], Path]) -> None:
    response = page.goto(reverse("healthz"))

    assert response is not None
    assert response.status == 200
    assert json.loads(page.locator("body").inner_text()) == {"status": "ok"}
    assert screenshot(page, "healthz").exists()


def test_live_server_serves_static_files(page: Page) -> None:
    response = page.goto("/static/admin/css/base.css")

    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")


def _send_test_mail(request: HttpRequest) -> HttpResponse:
    send_mail("Hello", "Sent from the live server.", None, ["someone@example.com"])
    return HttpResponse("sent")


urlpatterns = [path("send-test-mail/", _send_test_mail)]


@pytest.mark.urls(__name__)
def test_mail_sent_by_the_live_server_reaches_mailoutbox(
    page: Page, mailoutbox: list[EmailMessage]
) -> None:
    page.goto("/send-test-mail/")

    assert page.locator("body").inner_text() == "sent"
    assert [message.subject for message in mailoutbox] == ["Hello"]
