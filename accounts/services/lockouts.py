"""Lifting django-axes lockouts (admin)."""

from __future__ import annotations

import logging

from axes.models import AccessAttempt

logger = logging.getLogger(__name__)


def lockout_lift(*, attempt_ids: list[int]) -> int:
    """Forgets the failed attempts of these username+IP pairs, which unlocks them at once."""
    deleted, _ = AccessAttempt.objects.filter(pk__in=attempt_ids).delete()
    logger.info("lifted %d lockout record(s)", deleted)
    return deleted
