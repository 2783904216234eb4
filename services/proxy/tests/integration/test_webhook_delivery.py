"""Webhook delivery on loopback: the checked address is the one connected to, and redirects stay unfollowed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from certify_proxy.tasks.webhook import deliver

pytestmark = pytest.mark.integration


@dataclass
class Receiver:
    """A local HTTP receiver that records each request's Host header and answers ``status`` (+ Location)."""

    status: int = 200
    location: str | None = None
    hosts: list[str] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    servers: list[ThreadingHTTPServer] = []
    made: list[Receiver] = []

    def start(receiver: Receiver) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.hosts.append(self.headers.get("Host", ""))
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.port = server.server_address[1]
        servers.append(server)
        made.append(receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    start(Receiver())  # [0]: answers 200
    start(Receiver())  # [1]: the redirect target
    start(Receiver(status=302, location=f"http://127.0.0.1:{made[1].port}/stolen"))  # [2]
    try:
        yield made
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


async def _to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def test_a_redirect_to_loopback_is_not_followed(receivers: list[Receiver]) -> None:
    target, redirector = receivers[1], receivers[2]
    async with httpx.AsyncClient() as http:
        status, error = await deliver(
            http, f"http://127.0.0.1:{redirector.port}/hook", b"{}", {}, timeout_s=5, allow_private=True
        )
    assert (status, error) == (302, "the receiver answered 302")
    assert len(redirector.hosts) == 1
    assert target.hosts == []


async def test_delivery_connects_to_the_checked_address_and_sends_the_name_as_host(receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    url = f"http://hooks.certify.invalid:{receiver.port}/hook"
    async with httpx.AsyncClient() as http:
        status, error = await deliver(http, url, b"{}", {}, timeout_s=5, allow_private=True, resolve=_to_loopback)
    assert (status, error) == (200, None)
    assert receiver.hosts == [f"hooks.certify.invalid:{receiver.port}"]


async def test_a_name_that_now_resolves_to_loopback_is_refused_at_delivery(receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    url = f"http://hooks.certify.invalid:{receiver.port}/hook"
    async with httpx.AsyncClient() as http:
        status, error = await deliver(http, url, b"{}", {}, timeout_s=5, allow_private=False, resolve=_to_loopback)
    assert (status, error) == (None, "callback_url_forbidden")
    assert receiver.hosts == []
