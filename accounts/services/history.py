"""Login history upkeep: new-device alerts and retention."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import emails
from accounts.models import AuthMethod, LoginEvent, LoginOutcome, User
from accounts.services.mfa.amr import proof_label
from identity.cache import safe_get, safe_set
from identity.hashing import key_digest

# How many earlier successful sign-ins are compared with a new one.
KNOWN_DEVICES_WINDOW = 200
# A device and network seen at a sign-in stay "known" in the cache this long, so that the
# usual sign-in (same browser, same place) skips the history query. A miss, an eviction or a
# cache outage only falls back to the query: the answer is the same either way.
KNOWN_DEVICE_SECONDS = 7 * 24 * 3600
# Each process also remembers the devices it saw known, for as long as the cache would: a
# device never becomes unknown again before that, so the usual repeat sign-in on this worker
# skips the cache round trip as well. Bounded; the oldest entries go first.
KNOWN_DEVICES_REMEMBERED = 4096
_remembered: OrderedDict[str, float] = OrderedDict()
_remembered_lock = threading.Lock()


def ip_network(ip: str | None) -> str:
    """The network an address belongs to (/24 for IPv4, /48 for IPv6): "the same place"."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _known_device_key(user: User, device_label: str, network: str) -> str:
    # key_digest joins with "|" and keeps 32 hex characters, as the keys already stored do:
    # remembered devices survive the move to the shared helper.
    digest = key_digest(device_label, network)
    # public_id, never the bigint: a database restored or recreated under a kept Redis hands
    # old ids to new accounts, which must not inherit another person's devices.
    return f"known-device:{user.public_id.hex}:{digest}"


def is_new_device(*, user: User, device_label: str, ip: str | None) -> bool:
    """True when earlier successful sign-ins exist but none from this device and IP network.

    The very first sign-in of an account is not news. One cache read; one query on a miss.
    The device counts as known from this call on (callers ask only for a successful sign-in).
    """
    network = ip_network(ip)
    key = _known_device_key(user, device_label, network)
    if _recalled(key) or safe_get(key) is True:
        _remember(key)
        return False
    new = _is_new_in_history(user=user, device_label=device_label, network=network)
    safe_set(key, True, timeout=KNOWN_DEVICE_SECONDS)
    _remember(key)
    return new


def _recalled(key: str) -> bool:
    with _remembered_lock:
        until = _remembered.get(key)
        return until is not None and until > time.monotonic()


def _remember(key: str) -> None:
    # Counted from now even when the cache entry is older: the history query would still
    # answer "known" then (the device stays among the recent sign-ins), which is what counts.
    with _remembered_lock:
        if key not in _remembered:
            _remembered[key] = time.monotonic() + KNOWN_DEVICE_SECONDS
        _remembered.move_to_end(key)
        while len(_remembered) > KNOWN_DEVICES_REMEMBERED:
            _remembered.popitem(last=False)


def _is_new_in_history(*, user: User, device_label: str, network: str) -> bool:
    seen = list(
        LoginEvent.objects.filter(user=user, outcome=LoginOutcome.SUCCESS)
        .order_by("-created_at")
        .values_list("device_label", "ip")[:KNOWN_DEVICES_WINDOW]
    )
    known = any(label == device_label and ip_network(addr) == network for label, addr in seen)
    return bool(seen) and not known


def new_device_alert(
    *, user: User, device_label: str, ip: str | None, amr: str = AuthMethod.PASSWORD
) -> bool:
    """Emails the user about a sign-in from a device and network they have not used before,
    saying how it was proven (``amr``)."""
    if not settings.NEW_DEVICE_ALERTS:
        return False
    if not is_new_device(user=user, device_label=device_label, ip=ip):
        return False
    when, to, proof = timezone.now(), user.email, proof_label(amr)
    transaction.on_commit(
        lambda: emails.send_new_sign_in(
            username=user.username,
            to=to,
            when=when,
            device=device_label,
            ip=ip or "unknown",
            proof=proof,
        )
    )
    return True


def login_history_purge(*, older_than_days: int | None = None, batch_size: int = 5000) -> int:
    """Deletes events past retention in batches, so a large purge never locks the table long."""
    days = settings.LOGIN_HISTORY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            LoginEvent.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        deleted += LoginEvent.objects.filter(pk__in=ids).delete()[0]
