"""Service accounts: the users an OAuth application's client-credentials tokens act as."""

from __future__ import annotations

import uuid

from django.db import transaction

from accounts.models import Profile, User
from accounts.services.events import user_event_record

# RFC 2606 §2: .invalid never resolves, so no mail (a reset link included) can reach it.
SERVICE_ACCOUNT_EMAIL_DOMAIN = "service-accounts.invalid"


@transaction.atomic
def service_account_create(*, name: str) -> User:
    """A user with no usable password, marked as a service account: it signs in through no
    channel (accounts.backends refuses it) and holds only the roles assigned to it."""
    public_id = uuid.uuid4()
    user = User(
        public_id=public_id,
        username=f"service-{name}"[:150],
        email=f"{public_id.hex}@{SERVICE_ACCOUNT_EMAIL_DOMAIN}",
        is_service_account=True,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    Profile.objects.create(user=user)
    user_event_record("user.created", user=user, data={"how": "service_account"})
    return user


@transaction.atomic
def service_account_delete(*, user: User) -> None:
    if user.is_service_account:
        user_event_record("user.deleted", user=user)
        user.delete()
