"""A workspace with no published model yet: events are taken, nothing is scored, reads say why."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.smalldata import fill_store

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.server import ThreadedServer
from leadscore.workspace import init_workspace


def test_events_before_any_model_is_published(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    fill_store(ws)
    with ws.open_store() as store:
        _, key = create_key(store, "admin")
    with ThreadedServer(create_app(ws, worker=False, scheduler=False)) as server:
        c = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"})
        r = c.post("/v1/events", json={"contact_id": "c1", "type": "page_view"})
        assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["scores"] == []
        assert c.get("/v1/contacts/c1").json()["scores"] == []
        r = c.get("/v1/scores")
        assert r.status_code == 404 and "leadscore publish" in r.json()["detail"]
        assert c.post("/v1/score").json() == []
        assert c.get("/v1/contacts/c1/explain").status_code == 404
        c.close()
