"""Request values against the store's columns, and event ids made the way the importer makes them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from leadscore.api.values import NewEvent, coerce
from leadscore.ingest import import_file
from leadscore.workspace import Workspace


@pytest.mark.parametrize("event", [
    NewEvent(None, "c1", None, "page_view", datetime(2025, 5, 2, 10, 0, 0, 500_000), {"url": "/pricing"}),
    NewEvent(None, None, "Ann@Acme.com", "email_open", datetime(2025, 5, 2), {}),
    NewEvent(None, "c2", None, "form_submit", datetime(2025, 5, 2, 1, 2, 3, 120), {"form": None, "campaign": "x"}),
])
def test_generated_event_id_is_the_importers(small_ws: Workspace, tmp_path: Path, event: NewEvent) -> None:
    line: dict[str, object] = {"type": event.type, "occurred_at": event.occurred_at.isoformat(), **event.properties}
    if event.contact_id:
        line["contact_id"] = event.contact_id
    if event.email:
        line["email"] = event.email
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with small_ws.open_store() as store:
        result = import_file(store, "events", path, rejects_dir=tmp_path)
        assert result.inserted == 1
        row = store.con.execute("SELECT event_id FROM events WHERE type = ? AND occurred_at = ?",
                                [event.type, event.occurred_at]).fetchall()
    assert row == [(event.generated_id(),)]


def test_coerce_by_column_type() -> None:
    assert coerce(5, "BIGINT") == 5 and coerce(5.0, "BIGINT") == 5
    assert coerce(1.5, "DOUBLE") == 1.5 and coerce(True, "BOOLEAN") is True
    assert coerce(12, "VARCHAR") == "12" and coerce(None, "BIGINT") is None
    assert coerce("2026-01-02T03:04:05+02:00", "TIMESTAMP") == datetime(2026, 1, 2, 1, 4, 5)
    assert coerce("2026-01-02", "TIMESTAMP") == datetime(2026, 1, 2)
    for value, column in [(1.5, "BIGINT"), (True, "BIGINT"), ("5", "BIGINT"), (2**63, "BIGINT"),
                          ("x", "DOUBLE"), (1, "BOOLEAN"), ("soon", "TIMESTAMP"), (float("nan"), "VARCHAR")]:
        with pytest.raises(ValueError):
            coerce(value, column)
