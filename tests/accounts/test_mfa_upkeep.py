"""Upkeep of second-factor state: ended sign-in steps are purged with old sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import PendingSignIn
from accounts.services.mfa.pending import sign_in_pending_start


@pytest.mark.django_db
def test_purge_deletes_second_factor_steps_that_ended_over_a_day_ago(user):
    for _ in range(2):
        sign_in_pending_start(user=user, channel="api", identifier=user.username, amr="pwd")
    old, live = PendingSignIn.objects.order_by("created_at")
    PendingSignIn.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=2))
    call_command("purge_expired_sessions")
    assert list(PendingSignIn.objects.values_list("pk", flat=True)) == [live.pk]
