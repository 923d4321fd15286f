"""Clients that hold connections: a body that never arrives, many of them at once, and paths that
are not UTF-8 (api/limits.py), against a real server on a real socket."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import Api, make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    ws, keys = make_workspace(Path(tmp_path_factory.mktemp("slow")) / "ws")
    ws.settings.server.read_timeout_seconds = 1.0
    ws.settings.server.max_reading_connections = 2
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        yield Api(server.url, ws, app.state.runtime, keys)


def _start(api: Api, declared: int, sent: bytes) -> socket.socket:
    host, port = api.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.keys['write']}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode() + sent)
    return sock


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_body_that_never_arrives_is_a_408_and_the_connection_closes(api: Api) -> None:
    started = time.monotonic()
    with _start(api, 1000, b'{"contact_id": ') as sock:
        answer = _answer(sock)  # the server closes the connection: recv returns b"" and the loop ends
    assert answer.startswith(b"HTTP/1.1 408") and b"read_timeout_seconds" in answer, answer
    assert time.monotonic() - started < 8


def test_only_so_many_connections_may_be_sending_a_body(api: Api) -> None:
    held = [_start(api, 1000, b"{") for _ in range(2)]
    time.sleep(0.3)
    try:
        with _start(api, 10, b"") as third:
            answer = _answer(third)
        assert answer.startswith(b"HTTP/1.1 503") and b"max_reading_connections" in answer, answer
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert api.client().post("/v1/events", json={"contact_id": "slow-1", "type": "page_view"}).status_code == 200


@pytest.mark.parametrize("escape", ["%FE", "%FF", "%ED%A0%80", "c%C3"])
def test_a_path_id_that_is_not_utf8_is_a_400(api: Api, escape: str) -> None:
    r = api.client("read").get(f"/v1/contacts/{escape}")
    assert r.status_code == 400 and "not valid UTF-8" in r.text, r.text
    r = api.client().put(f"/v1/contacts/{escape}", json={"job_title": "x"})
    assert r.status_code == 400
    assert api.count("SELECT count(*) FROM contacts WHERE contact_id LIKE '%\ufffd%'") == 0
    assert api.client("read").get("/v1/contacts/%C3%A9t%C3%A9").status_code == 404  # UTF-8 escapes are fine
