"""`leadscore export data DIR`: the store's tables as a Parquet lake, written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

import leadscore
from leadscore.errors import LeadscoreError
from leadscore.workspace import Workspace


def test_export_data_writes_each_table_with_the_stores_columns(small_ws: Workspace, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert leadscore.export_data(lake, workspace=small_ws) == {"contacts": 5, "events": 7, "deals": 0}
    contacts = ds.dataset(lake / "contacts", format="parquet").to_table()
    with small_ws.open_store(read_only=True) as store:
        assert contacts.column_names == list(store.column_types("contacts"))
    assert str(contacts.schema.field("created_at").type) == "timestamp[us]"  # naive UTC, as stored
    assert ds.dataset(lake / "deals", format="parquet").to_table().num_rows == 0  # an empty table keeps its schema
    assert not [p for p in lake.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_existing_tables_are_replaced_only_when_asked(small_ws: Workspace, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    leadscore.export_data(lake, workspace=small_ws)
    with pytest.raises(LeadscoreError, match="--replace"):
        leadscore.export_data(lake, workspace=small_ws)
    with small_ws.open_store() as store:
        store.con.execute("DELETE FROM events WHERE event_id = 'e1'")
    assert leadscore.export_data(lake, workspace=small_ws, replace=True)["events"] == 6
    assert ds.dataset(lake / "events", format="parquet").to_table().num_rows == 6
