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
    assert leadscore.export_data(lake, workspace=small_ws) == {"contacts": 5, "events": 7, "deals": 0,
                                                              "companies": 0, "property_history": 0,
                                                              "company_property_history": 0}
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


def test_a_file_in_the_way_is_a_clear_error(small_ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LeadscoreError, match="is a file"):
        leadscore.export_data(tmp_path / "afile", workspace=small_ws)
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "contacts").write_text("x")
    with pytest.raises(LeadscoreError, match="is a file where the contacts table"):
        leadscore.export_data(tmp_path / "lake", workspace=small_ws)


def test_a_crash_between_the_renames_is_repaired_by_the_next_export(small_ws: Workspace, tmp_path: Path) -> None:
    """Killed after the previous table was set aside and before the new one took its name: the next
    export puts the previous one back (so it still refuses without --replace) and clears leftovers."""
    lake = tmp_path / "lake"
    leadscore.export_data(lake, workspace=small_ws)
    (lake / "contacts").rename(lake / ".contacts.0123.old")
    (lake / ".events.4567.tmp").mkdir()
    with pytest.raises(LeadscoreError, match="--replace"):
        leadscore.export_data(lake, workspace=small_ws)
    assert (lake / "contacts").is_dir() and not [p for p in lake.iterdir() if p.name.startswith(".")]
    assert ds.dataset(lake / "contacts", format="parquet").to_table().num_rows == 5
