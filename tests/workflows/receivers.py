"""Real receivers for delivery tests: an HTTP server and an SMTP server on free loopback ports.

``WebhookReceiver`` answers 500 to the first ``fail_first`` requests (then 200), can be slow, checks
each request's ``Leadscore-Signature`` with the receiver-side code of docs/workflows.md, and keeps
everything it saw. ``MailReceiver`` is aiosmtpd's threaded controller keeping each message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def verify_signature(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """The receiver-side check, as docs/workflows.md shows it (standard library only)."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


class WebhookReceiver:
    def __init__(self, *, secret: str | None = None, fail_first: int = 0, delay: float = 0.0):
        self.secret = secret
        self.fail_first = fail_first
        self.delay = delay
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                ok = None
                if receiver.secret is not None and "Leadscore-Signature" in headers:
                    ok = verify_signature(receiver.secret, body, headers["Leadscore-Signature"])
                with receiver.lock:
                    receiver.requests.append(Received(self.path, headers, body, ok))
                    failing = len(receiver.requests) <= receiver.fail_first
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"try again later" if failing else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.requests]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailReceiver:
    """aiosmtpd on a free port; ``messages`` holds what arrived (parsed)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = free_port()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                receiver.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
