"""End to end through the server: an event crosses a tier, the action is queued in the same
transaction, and the worker inside the server delivers the webhook to a real HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
from tests.smalldata import SMALL_MODEL, fill_store

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.server import ThreadedServer
from leadscore.engine.run import publish
from leadscore.model.loader import load_model
from leadscore.scoring import score_all
from leadscore.timeutil import utcnow
from leadscore.workspace import init_workspace


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append({"body": json.loads(body), "key": self.headers.get("Idempotency-Key")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_crossing_event_reaches_the_webhook_through_the_servers_worker(tmp_path: Path) -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "small.yml").write_text(
        SMALL_MODEL + f"workflows:\n  - name: to sales\n    on: {{enters_tier: sql}}\n"
                      f"    do:\n      - webhook: {{url: \"{hook}\"}}\n")
    fill_store(ws)
    with ws.open_store() as store:
        publish(store, load_model(ws.models_dir / "small.yml"))
        score_all(store, as_of=utcnow())
        _, key = create_key(store, "write")
    try:
        with ThreadedServer(create_app(ws, worker=True, scheduler=False)) as server:
            r = httpx.post(f"{server.url}/v1/events", json={"contact_id": "c3", "type": "demo_request"},
                           headers={"Authorization": f"Bearer {key}"})
            assert r.json()["scores"][0]["tier"] == "sql"
            for _ in range(200):
                if _Receiver.received:
                    break
                time.sleep(0.05)
            metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        receiver.shutdown()
    [call] = _Receiver.received
    assert call["key"] and "c3" in json.dumps(call["body"])
    assert "leadscore_outbox_depth 0.0" in metrics
