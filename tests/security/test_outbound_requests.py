"""identity.outbound: a URL typed in by an application's owner or an administrator cannot make
the portal call into its own network (SSRF), follow a redirect, or hang a worker."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from identity.outbound import RESPONSE_LIMIT_BYTES, OutboundRefused, post, url_refusal


class Receiver(ThreadingHTTPServer):
    """A receiver on loopback that records each request; ``answer`` says how it responds."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, Any]] = []
        self.answer = "ok"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.seen.append({"path": self.path, "host": self.headers["Host"], "body": body})
        if self.server.answer == "redirect":
            self.send_response(302)
            self.send_header("Location", f"{self.server.url}/elsewhere")
            self.end_headers()
            return
        if self.server.answer == "slow":
            time.sleep(2)
        payload = b"x" * (RESPONSE_LIMIT_BYTES * 4) if self.server.answer == "huge" else b"done"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",  # a name that resolves to loopback
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # loopback mapped into IPv6
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/hook",  # shared address space (carrier NAT)
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",  # IPv6 unique local
        "http://[fe80::1]/hook",  # IPv6 link-local
        "http://224.0.0.1/hook",  # multicast
        "http://2130706433/hook",  # 127.0.0.1 written as one number
    ],
)
def test_internal_addresses_are_refused_before_any_connection(url: str) -> None:
    with pytest.raises(OutboundRefused):
        post(url, content=b"{}", headers={})
    assert url_refusal(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
        "https://user:secret@example.com/hook",
        "https:///no-host",
        "http://[::1/hook",
        "http://example.com:99999/hook",
    ],
)
def test_other_schemes_credentials_and_broken_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        post(url, content=b"{}", headers={})
    assert url_refusal(url) is not None


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(OutboundRefused):
        post("https://no-such-host.invalid/hook", content=b"{}", headers={})


def test_a_public_address_passes_the_rule() -> None:
    """Only the rule is checked here: what answers a public address from this machine (nothing,
    or its network's own proxy) is not the point; the call is made, not refused."""
    assert url_refusal("https://93.184.215.14/hook") is None
    with contextlib.suppress(httpx.TransportError):  # unreachable here: a delivery retries it
        post("http://93.184.215.14:9/hook", content=b"{}", headers={}, timeout=0.5)


def test_private_receivers_are_called_only_when_allowed(receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(OutboundRefused):
        post(f"{receiver.url}/hook", content=b"{}", headers={})
    assert receiver.seen == []

    settings.WEBHOOK_ALLOW_PRIVATE = True
    response = post(f"{receiver.url}/hook?x=1", content=b'{"a": 1}', headers={"X-Test": "1"})
    assert response.status_code == 200
    assert receiver.seen == [
        {
            "path": "/hook?x=1",
            "host": f"127.0.0.1:{receiver.server_address[1]}",
            "body": b'{"a": 1}',
        }
    ]


def test_the_connection_goes_to_the_address_checked_with_the_name_kept_in_host(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    port = receiver.server_address[1]
    assert post(f"http://localhost:{port}/hook", content=b"{}", headers={}).status_code == 200
    assert receiver.seen[0]["host"] == f"localhost:{port}"


def test_a_redirect_is_answered_not_followed(receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver.answer = "redirect"
    response = post(f"{receiver.url}/hook", content=b"{}", headers={})
    assert response.status_code == 302
    assert [seen["path"] for seen in receiver.seen] == ["/hook"]  # /elsewhere never asked


def test_a_slow_receiver_times_out(receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver.answer = "slow"
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        post(f"{receiver.url}/hook", content=b"{}", headers={}, timeout=0.5)
    assert time.monotonic() - started < 1.9


def test_only_the_first_part_of_a_large_answer_is_kept(receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver.answer = "huge"
    response = post(f"{receiver.url}/hook", content=b"{}", headers={})
    assert response.status_code == 200
    assert len(response.content) == RESPONSE_LIMIT_BYTES


def test_proxies_from_the_environment_are_not_used(
    receiver: Receiver, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert post(f"{receiver.url}/hook", content=b"{}", headers={}).status_code == 200


def test_the_url_called_is_not_logged(
    receiver: Receiver, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Receivers put secrets in their URLs (a webhook path is often its only credential);
    httpx logs every request's URL at INFO, which the portal's logging settings turn off."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    secret = "T0KEN-in-the-path-4f9a"
    with caplog.at_level(logging.INFO):
        post(f"{receiver.url}/services/{secret}", content=b"{}", headers={})
    assert receiver.seen
    assert secret not in caplog.text
