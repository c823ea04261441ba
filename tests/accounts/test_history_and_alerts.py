"""New-device alerts, retention, the history index, and admin control of sessions and lockouts."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.errors import AccountLocked, ApplicationError, InvalidCredentials
from accounts.models import LoginEvent
from accounts.selectors import login_history_list
from accounts.services import history
from accounts.services.history import ip_network
from tests.factories import DEFAULT_PASSWORD, LoginEventFactory, UserSessionFactory

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def _authenticate_from(user, *, ip: str, agent: str, capture) -> None:
    request = RequestFactory().post("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    with capture(execute=True):
        services.user_authenticate(
            request=request, login=user.username, password=DEFAULT_PASSWORD, channel="api"
        )


def test_new_device_alert_sent_once_for_a_new_device_not_for_a_known_one(
    user_factory, mailoutbox, django_capture_on_commit_callbacks
):
    user = user_factory()
    capture = django_capture_on_commit_callbacks
    _authenticate_from(user, ip="203.0.113.10", agent=FIREFOX, capture=capture)
    assert mailoutbox == []  # the first sign-in of an account is not news
    # The same /24 and the same device:
    _authenticate_from(user, ip="203.0.113.77", agent=FIREFOX, capture=capture)
    assert mailoutbox == []
    _authenticate_from(user, ip="198.51.100.5", agent=CHROME_MAC, capture=capture)
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    assert "Chrome on Mac OS X" in body
    assert "198.51.100.5" in body
    assert "/accounts/sessions/" in body
    _authenticate_from(user, ip="198.51.100.5", agent=CHROME_MAC, capture=capture)
    assert len(mailoutbox) == 1


def test_known_device_is_remembered_by_the_process(
    user_factory, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    user = user_factory()
    capture = django_capture_on_commit_callbacks
    _authenticate_from(user, ip="203.0.113.10", agent=FIREFOX, capture=capture)
    cache.clear()  # evicted or flushed: this process still knows the device...
    # ...so no history query: user, lockout check, event, and the roles the MFA policy reads
    # (the user's assignments and the role graph: cached, but the flush emptied the cache).
    with django_assert_num_queries(5):
        _authenticate_from(user, ip="203.0.113.10", agent=FIREFOX, capture=capture)
    history._remembered.clear()  # another process, an empty cache: the history answers
    _authenticate_from(user, ip="203.0.113.10", agent=FIREFOX, capture=capture)
    _authenticate_from(user, ip="198.51.100.5", agent=CHROME_MAC, capture=capture)
    assert len(mailoutbox) == 1  # only the really new device


def test_new_device_alert_can_be_turned_off(
    user_factory, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.NEW_DEVICE_ALERTS = False
    user = user_factory()
    LoginEventFactory(user=user, device_label="Firefox on Windows", ip="203.0.113.10")
    _authenticate_from(
        user, ip="198.51.100.5", agent=CHROME_MAC, capture=django_capture_on_commit_callbacks
    )
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("ip", "network"),
    [("203.0.113.77", "203.0.113.0/24"), ("2001:db8:1:2::9", "2001:db8:1::/48"), ("x", "")],
)
def test_ip_network(ip, network):
    assert ip_network(ip) == network


def test_history_records_each_outcome(user_factory, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    cases = [
        (user_factory(), DEFAULT_PASSWORD, "success"),
        (user_factory(), "wrong", "bad_credentials"),
        (user_factory(unverified=True), DEFAULT_PASSWORD, "unverified"),
        (user_factory(is_active=False), DEFAULT_PASSWORD, "inactive"),
        (user_factory(needs_password_change=True), DEFAULT_PASSWORD, "password_change_required"),
    ]
    for user, password, _ in cases:
        request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.1", HTTP_USER_AGENT=FIREFOX)
        with contextlib.suppress(ApplicationError):
            services.user_authenticate(
                request=request, login=user.username, password=password, channel="api"
            )
    for user, _, outcome in cases:
        assert LoginEvent.objects.get(user=user).outcome == outcome


def test_purge_login_history_deletes_only_old_events_in_batches(user_factory):
    user = user_factory()
    old = LoginEventFactory.create_batch(7, user=user)
    LoginEvent.objects.filter(pk__in=[e.pk for e in old]).update(
        created_at=timezone.now() - timedelta(days=181)
    )
    recent = LoginEventFactory(user=user)
    call_command("purge_login_history", "--batch-size", "3")
    assert list(LoginEvent.objects.values_list("pk", flat=True)) == [recent.pk]


def test_history_query_uses_the_user_time_index(user_factory):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are Postgres's")
    users = user_factory.create_batch(20)
    with connection.cursor() as cursor:
        # 100,000 events spread over 20 users, inserted in one statement.
        cursor.execute(
            "INSERT INTO accounts_loginevent (user_id, identifier, outcome, reason, channel, "
            "user_agent, device_label, amr, created_at) "
            "SELECT (%s::bigint[])[1 + g %% 20], 'x', 'success', '', 'api', '', '', 'pwd', "
            "now() - (g || ' seconds')::interval FROM generate_series(1, 100000) g",
            [[u.pk for u in users]],
        )
        cursor.execute("ANALYZE accounts_loginevent")
    plan = login_history_list(user=users[3])[:25].explain()
    assert "accounts_login_user_created" in plan
    assert "Seq Scan" not in plan


def test_admin_revokes_a_session(client, user_factory):
    client.force_login(user_factory(superuser=True))
    session = UserSessionFactory()
    response = client.post(
        reverse("admin:accounts_usersession_changelist"),
        {"action": "revoke", "_selected_action": [session.pk]},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert client.get(reverse("admin:accounts_usersession_changelist"), {"channel": "browser"})


def test_admin_lifts_a_lockout(client, user_factory):
    user = user_factory()
    request = lambda: RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")  # noqa: E731
    for _ in range(5):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            services.user_authenticate(
                request=request(), login=user.username, password="wrong", channel="api"
            )
    with pytest.raises(AccountLocked):
        services.user_authenticate(
            request=request(), login=user.username, password=DEFAULT_PASSWORD, channel="api"
        )
    client.force_login(user_factory(superuser=True))
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert user.username.lower() in listing.content.decode()
    client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "unlock",
            "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True)),
        },
    )
    assert (
        services.user_authenticate(
            request=request(), login=user.username, password=DEFAULT_PASSWORD, channel="api"
        )
        == user
    )
