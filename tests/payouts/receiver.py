"""A client's webhook endpoint on this machine, for the tests of client webhooks."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A client's webhook endpoint on this machine: `/ok` answers 200, `/fail` 500, `/flaky` 500
    until `flaky_failures` have been answered, `/slow` after `slow_seconds`, `/redirect` 302,
    `/big` 200 with 10 KB. Every request is kept in `received`."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    flaky_failures: int = 2
    slow_seconds: float = 5.0

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def on(self, path: str) -> list[Received]:
        return [message for message in self.received if message.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mine: Receiver = state["receiver"]
            mine.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, answer = 200, b"ok"
            if self.path == "/fail":
                status, answer = 500, b"broken"
            elif self.path == "/flaky" and len(mine.on("/flaky")) <= mine.flaky_failures:
                status, answer = 500, b"not yet"
            elif self.path == "/slow":
                time.sleep(mine.slow_seconds)
            elif self.path == "/big":
                answer = b"x" * 10_000
            elif self.path == "/redirect":
                status = 302
            self.send_response(status)
            if self.path == "/redirect":
                self.send_header("Location", "/ok")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
