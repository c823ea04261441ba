"""Each process remembers the sign-ins its access tokens name; Redis pub/sub says what to forget.

A request with a first-party access token needs the user row and whether the token's sign-in
(its ``sid``) is still live: one query (accounts.selectors.user_get_for_access_token). A
client presents the same token for its whole life, so each process keeps the answer for up to
``ACCESS_TOKEN_MEMORY_SECONDS`` and asks the database again only when told the answer changed.

Telling is Redis pub/sub on one channel. Every change that could alter an answer (a sign-in
revoked, a user saved or deleted) drops the entry here at once and, once the change is
committed, is published; every process drops it when the message arrives. There is no
listener thread: before each use of the memory the request polls its subscription socket
without blocking (a syscall, no round trip) and reads what has arrived. Redis writes a message
to the subscribers before the publisher's request can answer its client, so a client that
revokes a sign-in and then calls another process is refused there (tests cover it with two
gunicorn processes).

The memory is used only while this process holds a live subscription. When the subscription
fails or Redis closes it (a restart, an output-buffer overflow), everything remembered is
dropped and every request asks the database until a new subscription is confirmed: a message
missed while unsubscribed cannot leave a stale answer behind. A database answer read before a
change and stored after its message arrived is not stored (the generation check). Entries
also expire after ``ACCESS_TOKEN_MEMORY_SECONDS`` whatever happens. A connection that silently
stops delivering (a network partition: the socket looks healthy) is found by a heartbeat: a PING
after a second without news, whose PONG must come within two more, else the memory is dropped
and the process resubscribes; requests ask the database while the news is older than that.

Without a Redis cache (development on locmem, ``dummycache``), or with the setting at 0, the
memory is off and every request asks the database.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from identity.cache import CACHE_ERRORS, invalidate

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "identity:sign-ins"
MAX_ENTRIES = 4096
# After a failed subscription, requests ask the database and try again this much later.
RESUBSCRIBE_SECONDS = 1.0
SUBSCRIBE_TIMEOUT_SECONDS = 0.5
# The subscription's heartbeat (see _heartbeat): a PING after this long without news...
PING_INTERVAL_SECONDS = 1.0
# ...whose PONG must arrive within this, else the memory is dropped and we resubscribe.
PING_DEADLINE_SECONDS = 2.0
_EVERYTHING = b"*"


@dataclass(frozen=True, slots=True)
class Entry:
    public_id: uuid.UUID
    user_pk: int
    row: tuple[Any, ...]
    live: bool
    stored_at: float


class _Memory:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pid = 0
        self.connection: Any = None  # a subscribed redis.Connection, or None
        self.poller: select.poll | None = None  # polls its socket
        self.retry_at = 0.0
        # Monotonic times: the last reply read from the subscription, the PING awaiting one.
        self.heard_at = 0.0
        self.ping_sent_at = 0.0
        self.entries: OrderedDict[uuid.UUID, Entry] = OrderedDict()
        # Bumped by every forget: an answer read before one is not stored after it.
        self.generation = 0


_memory = _Memory()


def max_age() -> float:
    return float(getattr(settings, "ACCESS_TOKEN_MEMORY_SECONDS", 0))


def enabled() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return max_age() > 0 and backend == "identity.redis_cache.RedisCache"


def generation() -> int:
    return _memory.generation


def recall(public_id: uuid.UUID, sid: uuid.UUID) -> Entry | None:
    """What this process remembers of sign-in ``sid``, if it may still be trusted."""
    if not enabled():
        return None
    with _memory.lock:
        if not _sync():
            return None
        entry = _memory.entries.get(sid)
        if entry is None:
            return None
        if entry.public_id != public_id or time.monotonic() - entry.stored_at > max_age():
            del _memory.entries[sid]
            return None
        _memory.entries.move_to_end(sid)
        return entry


def remember(
    public_id: uuid.UUID,
    sid: uuid.UUID,
    *,
    user_pk: int,
    row: tuple[Any, ...],
    live: bool,
    since: int,
) -> None:
    """Keeps a database answer read after ``generation()`` returned ``since``."""
    if not enabled():
        return
    with _memory.lock:
        if _memory.connection is None or _memory.generation != since:
            return  # not subscribed, or something changed while the answer was read
        _memory.entries[sid] = Entry(public_id, user_pk, row, live, time.monotonic())
        _memory.entries.move_to_end(sid)
        while len(_memory.entries) > MAX_ENTRIES:
            _memory.entries.popitem(last=False)


def forget(*, sids: Iterable[Any] = (), user_pks: Iterable[int] = ()) -> None:
    """Drops what any process remembers of these sign-ins and users: here at once, and in
    every process once the current transaction commits (before, another process could read
    the old row again and keep it)."""
    if not enabled():
        return
    payloads = [f"s:{sid.hex}" for sid in sid_uuids(sids)] + [f"u:{int(pk)}" for pk in user_pks]
    if not payloads:
        return
    encoded = [payload.encode() for payload in payloads]
    with _memory.lock:
        _drop(encoded)

    def publish() -> None:
        with _memory.lock:
            _drop(encoded)
        for payload in payloads:
            # Kept and replayed by identity.cache when Redis cannot be reached now.
            invalidate(f"{channel()}:{payload}", lambda p=payload: _client().publish(channel(), p))

    transaction.on_commit(publish)


def clear() -> None:
    """Forgets everything in this process and drops the subscription (tests, fork)."""
    with _memory.lock:
        _unsubscribe()
        _memory.retry_at = 0.0


# -- internals -------------------------------------------------------------------------------


def channel() -> str:
    """Pub/sub channels are server-wide: the name carries the cache's database and prefix, so
    that portals sharing a Redis server do not hear each other."""
    pool = cache._cache._get_connection_pool(True)  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{CHANNEL_PREFIX}:{pool.connection_kwargs.get('db', 0)}:{prefix}"


def _client() -> Any:
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]


def _sync() -> bool:
    """Reads the messages that have arrived; True while the subscription is live."""
    if _memory.pid != os.getpid():  # a forked child shares nothing of its parent's
        _memory.pid, _memory.connection, _memory.poller = os.getpid(), None, None
        _memory.entries.clear()
        _memory.generation += 1
    if _memory.connection is None and not _subscribe():
        return False
    connection = _memory.connection
    try:
        # The common case, nothing arrived: one poll of the socket. redis-py's can_read costs
        # ten times more; it also sees data its parser holds, but the loop leaves none there.
        if _memory.poller is None or _memory.poller.poll(0):
            _read(connection)
        return _heartbeat(connection)
    except CACHE_ERRORS as error:
        logger.warning("sign-in memory: subscription lost (%s)", type(error).__name__)
        _unsubscribe()
        return False


def _read(connection: Any) -> None:
    while connection.can_read(timeout=0):
        message = connection.read_response(push_request=True)
        _memory.heard_at = time.monotonic()  # any reply proves the connection delivers
        if isinstance(message, list) and len(message) == 3 and message[0] == b"message":
            _drop([message[2]])
        elif _is_pong(message):
            _memory.ping_sent_at = 0.0


def _is_pong(message: Any) -> bool:
    if isinstance(message, list) and message:
        message = message[0]
    return isinstance(message, bytes) and message.lower() == b"pong"


def _heartbeat(connection: Any) -> bool:
    """True while the subscription proved itself recently. A connection that silently stops
    delivering (a dropped NAT entry, a dead peer; TCP says nothing for minutes) would lose
    revocation messages unnoticed: so a PING goes out after PING_INTERVAL_SECONDS without
    news, and its PONG not arriving within PING_DEADLINE_SECONDS drops the memory and the
    subscription. Meanwhile, news older than both together makes requests ask the database."""
    now = time.monotonic()
    if _memory.ping_sent_at and now - _memory.ping_sent_at > PING_DEADLINE_SECONDS:
        logger.warning("sign-in memory: no reply to PING within %ss", PING_DEADLINE_SECONDS)
        _unsubscribe()
        return False
    if not _memory.ping_sent_at and now - _memory.heard_at >= PING_INTERVAL_SECONDS:
        connection.send_command("PING")  # one send, at most once a second; no wait
        _memory.ping_sent_at = now
    return now - _memory.heard_at <= PING_INTERVAL_SECONDS + PING_DEADLINE_SECONDS


def _subscribe() -> bool:
    now = time.monotonic()
    if now < _memory.retry_at:
        return False
    # Until this attempt succeeds, requests ask the database and do not retry at once.
    _memory.retry_at = now + RESUBSCRIBE_SECONDS
    pool = cache._cache._get_connection_pool(True)  # type: ignore[attr-defined]
    kwargs = {**pool.connection_kwargs, "socket_timeout": SUBSCRIBE_TIMEOUT_SECONDS}
    connection = pool.connection_class(**kwargs)
    try:
        connection.connect()
        # Named, so that an operator (or a test) can tell these connections in CLIENT LIST.
        connection.send_command("CLIENT", "SETNAME", f"signin-memory-{os.getpid()}")
        connection.read_response()
        connection.send_command("SUBSCRIBE", channel())
        reply = connection.read_response(push_request=True)
    except CACHE_ERRORS as error:
        logger.warning("sign-in memory: cannot subscribe (%s)", type(error).__name__)
        connection.disconnect()
        return False
    if not (isinstance(reply, list) and reply and reply[0] == b"subscribe"):
        connection.disconnect()
        return False
    # Nothing remembered from before survives: messages may have been missed meanwhile.
    _memory.entries.clear()
    _memory.generation += 1
    _memory.connection, _memory.retry_at = connection, 0.0
    _memory.heard_at, _memory.ping_sent_at = time.monotonic(), 0.0
    sock = getattr(connection, "_sock", None)
    _memory.poller = None
    if sock is not None:
        _memory.poller = select.poll()
        _memory.poller.register(sock, select.POLLIN | select.POLLPRI)
    return True


def _unsubscribe() -> None:
    connection, _memory.connection, _memory.poller = _memory.connection, None, None
    _memory.entries.clear()
    _memory.generation += 1
    if connection is not None:
        connection.disconnect()


def sid_uuids(values: Iterable[Any]) -> list[uuid.UUID]:
    """The sign-in ids among ``values`` as UUIDs, once each; anything else is skipped: not a
    sid this portal issued, so no row, token or remembered entry can be named by it."""
    found = []
    for value in values:
        try:
            found.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(dict.fromkeys(found))


def _drop(payloads: Iterable[bytes]) -> None:
    for payload in payloads:
        _memory.generation += 1
        if payload == _EVERYTHING:
            _memory.entries.clear()
        elif payload.startswith(b"s:"):
            try:
                _memory.entries.pop(uuid.UUID(payload[2:].decode()), None)
            except ValueError:
                _memory.entries.clear()  # a message we cannot read: forget everything
        elif payload.startswith(b"u:") and payload[2:].isdigit():
            pk = int(payload[2:])
            for sid in [sid for sid, entry in _memory.entries.items() if entry.user_pk == pk]:
                del _memory.entries[sid]
        else:
            _memory.entries.clear()
