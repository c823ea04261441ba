"""A receiver on loopback for the outbox's tests (it keeps what it was sent: body and headers),
and the test-only sender that posts to it.

The sender (kind ``test``) is registered when this module is imported: by the tests, and by
the worker process they start (``worker_command``), which runs the real ``db_worker``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from identity.events import SENDERS, PreparedRequest
from identity.models import Delivery

TEST_KIND = "test"


def _test_sender(delivery: Delivery) -> PreparedRequest:
    event = delivery.event
    body = json.dumps({"id": str(event.id), "type": event.type, "data": event.data}).encode()
    headers = {"content-type": "application/json", "webhook-id": str(event.id)}
    return PreparedRequest(url=delivery.url, body=body, headers=headers)


SENDERS[TEST_KIND] = _test_sender


@dataclass
class Received:
    path: str
    event_id: str
    answered: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """Answers each path with its script of answers in turn (an int is a status; "slow"
    sleeps past the worker's timeout then answers 200; "block" waits for ``release``); the
    last answer of a script repeats."""

    scripts: dict[str, list[int | str]]
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    slow_seconds: float = 3.0

    def answer(self, path: str) -> int | str:
        script = self.scripts[path]
        return script.pop(0) if len(script) > 1 else script[0]

    def ids(self, path: str) -> list[str]:
        return [item.event_id for item in self.received if item.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            answer = receiver.answer(self.path)
            status = 200
            if answer == "slow":
                time.sleep(receiver.slow_seconds)
            elif answer == "block":
                receiver.arrived.set()
                receiver.release.wait(30)
            else:
                status = int(answer)
            headers = {name.lower(): value for name, value in self.headers.items()}
            received = Received(self.path, headers["webhook-id"], status, body, headers)
            receiver.received.append(received)
            self.send_response(status)
            if status == 302:
                self.send_header("location", "/followed")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def receiving(receiver: Receiver, port: int = 0) -> Iterator[str]:
    """Serves ``receiver`` on loopback; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


WORKER_CODE = (
    "import django; django.setup(); import tests.identity.outbox_receiver; "
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', 'db_worker', '--interval', '0.1', "
    "'--no-startup-delay', '--no-reload', '-v', '2'])"
)


def start_worker(
    *, database_url: str, log: Path, timeout: float = 1.0, retries: int = 4
) -> subprocess.Popen[bytes]:
    """The real ``manage.py db_worker`` with the test sender registered and ``retries`` retries
    a second apart, against the test's database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "OUTBOX_BACKOFF_SECONDS": ",".join(["1"] * retries),
        "OUTBOX_TIMEOUT_SECONDS": str(timeout),
        "OUTBOX_SWEEP_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_CODE],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@contextmanager
def worker(
    tmp_path: Path, *, timeout: float = 1.0, retries: int = 4
) -> Iterator[subprocess.Popen[bytes]]:
    """``start_worker`` for the duration of the block, against the test database; its log is
    printed afterwards (shown when the test fails)."""
    from tests.processes import database_url

    log = tmp_path / "worker.log"
    process = start_worker(database_url=database_url(), log=log, timeout=timeout, retries=retries)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        print(log.read_text()[-4000:])


def free_port() -> int:
    """A loopback port nothing listens on (yet): a receiver that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: object, *, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
