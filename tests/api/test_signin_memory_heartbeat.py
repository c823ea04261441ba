"""The sign-in memory's subscription proves it is alive (issue 16, item 16): a connection that
silently stops delivering turns the memory off within the heartbeat's deadline, not after the
entries' age cap, and the memory comes back once a new subscription is confirmed."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import redis
from django.utils import timezone

from accounts import signin_memory
from accounts.models import UserSession
from tests.api.conftest import assert_problem
from tests.api.test_signin_memory import ME, _latest_sid, _queries
from tests.conftest import redis_cache_use
from tests.processes import redis_or_skip

# What the heartbeat promises: a PING a second at most, its PONG within two more.
NOTICED_WITHIN_SECONDS = 3.0


class SilencingProxy:
    """A TCP proxy on loopback in front of Redis. ``silence()`` makes the connections that
    carry the sign-in memory's subscription stop forwarding in both directions without
    closing: a silent network partition, as a dropped NAT entry or a dead peer makes one."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silenced: set[int] = set()
        self.subscriptions: set[int] = set()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            pair = id(client)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: int) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                if b"signin-memory-" in data:
                    self.subscriptions.add(pair)
                if pair in self.silenced:
                    continue  # swallowed: nothing forwarded, nothing closed
            try:
                sink.sendall(data)
            except OSError:
                return

    def silence(self) -> None:
        with self.lock:
            self.silenced |= self.subscriptions

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def proxied(settings) -> Iterator[tuple[redis.Redis, SilencingProxy]]:
    """The portal's Redis cache reached through the proxy; ``redis.Redis`` talks to it directly
    (another process publishing)."""
    url = redis_or_skip()
    parsed = urllib.parse.urlparse(url)
    proxy = SilencingProxy(parsed.hostname or "127.0.0.1", parsed.port or 6379)
    redis_cache_use(settings, f"redis://127.0.0.1:{proxy.port}{parsed.path or '/0'}")
    settings.ACCESS_TOKEN_MEMORY_SECONDS = 10.0
    direct = redis.Redis.from_url(url)
    direct.flushdb()
    signin_memory.clear()
    yield direct, proxy
    signin_memory.clear()
    # Straight to Redis again before the proxy goes: later teardowns still clear the cache.
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }
    proxy.close()
    direct.flushdb()


def test_a_silently_dead_subscription_turns_the_memory_off_within_the_deadline(
    proxied, user, signed_in_api
) -> None:
    direct, proxy = proxied
    client, sid = signed_in_api(user), _latest_sid(user)
    assert _queries(client) == (200, 1)
    assert _queries(client) == (200, 0)  # remembered: the subscription is live

    proxy.silence()
    # Another process revokes the sign-in; its message never arrives here.
    UserSession.objects.filter(pk=sid).update(revoked_at=timezone.now())
    direct.publish(signin_memory.channel(), f"s:{sid.hex}")

    started = time.monotonic()
    while client.get(ME).status_code == 200:
        assert time.monotonic() - started < NOTICED_WITHIN_SECONDS + 0.5, "the memory answers"
        time.sleep(0.1)
    assert_problem(client.get(ME), 401, "token_not_valid")


def test_the_memory_comes_back_after_resubscribing(proxied, user, signed_in_api) -> None:
    _, proxy = proxied
    client, _ = signed_in_api(user), _latest_sid(user)
    assert _queries(client) == (200, 1)
    assert _queries(client) == (200, 0)
    proxy.silence()
    started = time.monotonic()
    while _queries(client) == (200, 0):  # until the silence is noticed: the memory is off
        assert time.monotonic() - started < NOTICED_WITHIN_SECONDS + 0.5, "the memory answers"
        time.sleep(0.1)
    # A new subscription (a new connection, which the proxy forwards) is confirmed, and the
    # memory answers again.
    bound = NOTICED_WITHIN_SECONDS + signin_memory.RESUBSCRIBE_SECONDS + 2.0
    while _queries(client) != (200, 0):
        assert time.monotonic() - started < bound, "the memory did not come back"
        time.sleep(0.1)
