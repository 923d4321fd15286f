"""Custom columns an import added: typed values through both insert paths (bound rows, Arrow)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
from tests.api.conftest import make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer
from leadscore.storage.store import Store


def test_typed_custom_event_and_contact_columns(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    with Store.open(ws.store_path) as store:
        store.con.execute("ALTER TABLE events ADD COLUMN amount DOUBLE")
        store.con.execute("ALTER TABLE events ADD COLUMN seats BIGINT")
        store.con.execute("ALTER TABLE events ADD COLUMN trial BOOLEAN")
        store.con.execute("ALTER TABLE events ADD COLUMN renew_on DATE")
        store.con.execute("ALTER TABLE contacts ADD COLUMN plan VARCHAR")
    props = {"amount": 12.5, "seats": 3, "trial": True, "renew_on": "2026-05-01"}
    with ThreadedServer(create_app(ws, worker=False, scheduler=False)) as server:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['write']}"})
        one = client.post("/v1/events", json={"event_id": "one", "contact_id": "c1", "type": "purchase",
                                              "properties": props})
        many = client.post("/v1/events", json={"events": [
            {"event_id": f"many-{i}", "contact_id": "c2", "type": "purchase", "properties": props}
            for i in range(40)]})  # over SMALL: the Arrow path
        assert one.status_code == many.status_code == 200, (one.text, many.text)
        bad = client.post("/v1/events", json={"contact_id": "c1", "type": "purchase",
                                              "properties": {"seats": 2.5, "trial": "yes", "renew_on": "soon"}})
        assert {e["field"] for e in bad.json()["detail"]} == {
            "properties.seats", "properties.trial", "properties.renew_on"}
        assert client.put("/v1/contacts/c1", json={"plan": "pro"}).json()["properties"]["plan"] == "pro"
        client.close()
    with Store.open(ws.store_path, read_only=True) as store:
        rows = set(store.con.execute(
            "SELECT amount, seats, trial, renew_on FROM events WHERE event_id = 'one' OR event_id LIKE 'many-%'"
        ).fetchall())
    assert rows == {(12.5, 3, True, date(2026, 5, 1))}
