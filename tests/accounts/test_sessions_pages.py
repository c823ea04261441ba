"""The sessions and sign-in history pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import UserSession
from tests.factories import DEFAULT_PASSWORD, LoginEventFactory, UserSessionFactory

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _browser(user, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return client


def test_sessions_page_lists_live_sessions_and_marks_this_one(user_factory):
    user = user_factory()
    firefox, _ = _browser(user, FIREFOX), _browser(user, SAFARI)
    UserSessionFactory(user=user, channel="api", device_label="curl")
    UserSessionFactory(user=user, revoked=True, device_label="Revoked thing")
    UserSessionFactory(user=user, expired=True, device_label="Expired thing")
    UserSessionFactory(device_label="Someone else's")
    page = firefox.get(reverse("accounts:sessions")).content.decode()
    assert "Firefox on Windows" in page
    assert "Mobile Safari on iOS" in page
    assert "curl" in page
    assert "This session" in page
    for hidden in ("Revoked thing", "Expired thing", "Someone else"):
        assert hidden not in page


def test_signing_out_another_session_ends_it_at_once(user_factory):
    user = user_factory()
    firefox, safari = _browser(user, FIREFOX), _browser(user, SAFARI)
    other = UserSession.objects.get(user=user, device_label__startswith="Mobile Safari")
    response = firefox.post(reverse("accounts:session_revoke", args=[other.pk]))
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.revoked_at is not None
    # The other browser is signed out on its very next request.
    assert safari.get(reverse("accounts:profile")).status_code == 302
    assert firefox.get(reverse("accounts:profile")).status_code == 200


def test_signing_out_this_session_from_the_list_signs_out(user_factory):
    user = user_factory()
    firefox = _browser(user, FIREFOX)
    mine = UserSession.objects.get(user=user)
    response = firefox.post(reverse("accounts:session_revoke", args=[mine.pk]))
    assert response.url == reverse("accounts:login")
    assert firefox.get(reverse("accounts:profile")).status_code == 302


def test_cannot_revoke_someone_elses_session(user_factory):
    user = user_factory()
    victim_session = UserSessionFactory()
    firefox = _browser(user, FIREFOX)
    firefox.post(reverse("accounts:session_revoke", args=[victim_session.pk]))
    victim_session.refresh_from_db()
    assert victim_session.revoked_at is None


def test_sign_out_all_others_keeps_this_one(user_factory):
    user = user_factory()
    firefox, safari = _browser(user, FIREFOX), _browser(user, SAFARI)
    api = UserSessionFactory(user=user, channel="api")
    firefox.post(reverse("accounts:sessions_revoke_others"))
    api.refresh_from_db()
    assert api.revoked_at is not None
    assert safari.get(reverse("accounts:profile")).status_code == 302
    assert firefox.get(reverse("accounts:profile")).status_code == 200


def test_session_revoke_needs_post(user_factory, client):
    user = user_factory()
    session = UserSessionFactory(user=user)
    client.force_login(user)
    assert client.get(reverse("accounts:session_revoke", args=[session.pk])).status_code == 405


@pytest.mark.parametrize(
    ("page", "factory", "count", "budget"),
    [
        ("accounts:sessions", UserSessionFactory, 2, 6),
        ("accounts:sessions", UserSessionFactory, 40, 6),
        ("accounts:history", LoginEventFactory, 3, 5),
        ("accounts:history", LoginEventFactory, 80, 5),
    ],
)
def test_sessions_and_history_query_counts_do_not_grow(
    user_factory, client, page, factory, count, budget, django_assert_max_num_queries
):
    user = user_factory()
    factory.create_batch(count, user=user)
    client.force_login(user)
    client.get(reverse("home"))  # the first request records force_login's session row
    with django_assert_max_num_queries(budget):
        assert client.get(reverse(page)).status_code == 200


def test_history_shows_own_attempts_newest_first_with_failures(user_factory, client):
    user = user_factory()
    LoginEventFactory(user=user, failed=True, device_label="Old failure")
    LoginEventFactory(user=user, device_label="Newest success")
    LoginEventFactory(device_label="Not mine")
    client.force_login(user)
    page = client.get(reverse("accounts:history")).content.decode()
    assert page.index("Newest success") < page.index("Old failure")
    assert "Wrong username or password" in page
    assert "Not mine" not in page


def test_history_pages_without_counting(user_factory, client):
    user = user_factory()
    LoginEventFactory.create_batch(30, user=user)
    client.force_login(user)
    first = client.get(reverse("accounts:history")).content.decode()
    second = client.get(reverse("accounts:history"), {"page": 2}).content.decode()
    assert "Older" in first
    assert "Newer" in second
    assert "Older" not in second
    assert client.get(reverse("accounts:history"), {"page": "x"}).status_code == 200
