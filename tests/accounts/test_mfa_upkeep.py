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


@pytest.mark.django_db
def test_recovery_codes_are_stored_as_salted_password_hashes(user):
    from django.contrib.auth.hashers import identify_hasher

    from accounts.models import RecoveryCode
    from accounts.services.mfa.recovery import recovery_code_spend, recovery_codes_replace

    codes = recovery_codes_replace(user=user)
    stored = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == len(set(stored)) == 10
    for value in stored:
        identify_hasher(value)  # a Django password hash, with its own salt
        assert all(code.replace("-", "") not in value for code in codes)
    assert recovery_code_spend(user=user, code=codes[3].upper().replace("-", " "))
    assert not recovery_code_spend(user=user, code=codes[3])
