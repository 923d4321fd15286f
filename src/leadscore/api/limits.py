"""What a request may cost before the app sees it: body size, the time to send the body, how many
connections may be sending one at once, and a path that is text.

* A body over the limit is a 413. Both the declared ``Content-Length`` and the bytes actually
  streamed are checked: a client may send no length (chunked transfer) or lie about it, and
  neither may make the server buffer more than the limit.
* A body must arrive within ``read_timeout`` seconds (a 408 and the connection closed after that):
  a client that declares 1,000 bytes and sends 10 would otherwise hold its connection forever.
  At most ``max_reading`` requests may be sending their body at once; one more is a 503 at once,
  so slow clients cannot take every connection the server has.
* A path whose percent-escapes are not UTF-8 (``%FE``, ``%ED%A0%80``) is a 400: decoded leniently,
  all three became the same U+FFFD contact id.

The body is read here once and handed on, so the app sees a normal request.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _path_is_text(scope: Scope) -> bool:
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    try:
        unquote_to_bytes(raw.split(b"?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float = 30.0, max_reading: int = 64):
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        self.max_reading = max_reading
        self.reading = 0  # requests sending their body right now (one event loop: no lock needed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _path_is_text(scope):
            await _reply(send, 400, "the URL path is not valid UTF-8 once its %-escapes are decoded "
                                    "(ids are text: escape them from UTF-8)")
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_big = (f"request body over {self.max_bytes:,} bytes; send fewer events per batch "
                   f"(the limit is server.max_body_bytes)")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await _reply(send, 413, too_big)
                return
        if self.reading >= self.max_reading:
            await _reply(send, 503, f"{self.reading} requests are already sending their body; retry in a moment "
                                    "(server.max_reading_connections)")
            return
        self.reading += 1
        try:
            body = await self._read(receive, send, too_big)
        finally:
            self.reading -= 1
        if body is None:
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, send: Send, too_big: str) -> bytes | None:
        """The whole body, or None once the reply (413, 408) was sent or the client left."""
        chunks: list[bytes] = []
        size = 0
        ends = time.monotonic() + self.read_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(ends - time.monotonic(), 0.0))
            except TimeoutError:
                await _reply(send, 408, f"the request body did not arrive within {self.read_timeout:g} s "
                                        "(server.read_timeout_seconds); the connection is closed")
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reply(send, 413, too_big)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
