"""Parquet events whose statistics prove every row good take a shorter path (no per-row verdict,
no id generation, no contact resolution); it must import exactly what the full path imports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ImportResult, importer
from leadscore.ingest.mapping import ColumnMapping
from leadscore.ingest.readers import open_source
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]

TABLE = pa.table({
    "event_id": ["a", "b", "a", "c", "d"],  # "a" twice: the first row wins
    "contact_id": ["1", "1", "2", "2", "3"],
    "type": ["page_view", "email_open", "page_view", "form_submit", "page_view"],
    "occurred_at": pa.array([datetime(2024, 5, d) for d in (1, 2, 3, 4, 5)], pa.timestamp("us")),
    "url": ["/p", "", None, "/q", "/r"],
})


def _write(path: Path, table: pa.Table, *, statistics: bool = True) -> Path:
    pq.write_table(table, path, write_statistics=statistics, row_group_size=2)
    return path


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record whether each import took the proven path."""
    seen: list[bool] = []
    real = importer._proven_events

    def wrapped(*args: object) -> bool:
        seen.append(real(*args))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(importer, "_proven_events", wrapped)
    return seen


def _stored(store: Store) -> list[tuple[object, ...]]:
    return rows(store, "SELECT event_id, contact_id, type, occurred_at, url FROM events ORDER BY 1")


def test_proven_file_imports_like_one_without_statistics(run: Run, store: Store, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(monkeypatch)
    proven = run("events", _write(tmp_path / "with.parquet", TABLE))
    assert seen == [True]
    assert (proven.inserted, proven.duplicates, proven.rejected) == (4, 1, 0)
    assert proven.unknown_contacts == 5  # no contacts stored yet (counted over the good rows)
    assert _stored(store) == [
        ("a", "1", "page_view", datetime(2024, 5, 1), "/p"),
        ("b", "1", "email_open", datetime(2024, 5, 2), None),  # '' is no value, as on every path
        ("c", "2", "form_submit", datetime(2024, 5, 4), "/q"),
        ("d", "3", "page_view", datetime(2024, 5, 5), "/r")]
    with Store.open(tmp_path / "other.duckdb") as other:
        plain = importer.import_file(other, "events", _write(tmp_path / "without.parquet", TABLE,
                                                             statistics=False),
                                     rejects_dir=tmp_path / "rejects")
        assert seen == [True, False]
        assert (plain.inserted, plain.duplicates, plain.rejected) == (4, 1, 0)
        assert plain.unknown_contacts == proven.unknown_contacts
        assert _stored(other) == _stored(store)
    again = run("events", tmp_path / "with.parquet")
    assert (again.inserted, again.duplicates) == (0, 5)


def test_unknown_contacts_counted_on_the_proven_path(run: Run, store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store.con.execute("INSERT INTO contacts (contact_id) VALUES ('1'), ('3')")
    seen = _spy(monkeypatch)
    result = run("events", _write(tmp_path / "e.parquet", TABLE))
    assert seen == [True] and result.unknown_contacts == 2  # contact 2's two rows


@pytest.mark.parametrize("column, values, line, reason", [
    ("contact_id", ["1", None, "2", "2", "3"], "2", "no contact_id"),  # a NULL in one row group
    ("type", ["page_view", "email_open", "", "form_submit", "page_view"], "3", "type is empty"),
])
def test_a_missing_value_is_not_proven_and_is_rejected(run: Run, store: Store, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       column: str, values: list[str | None],
                                                       line: str, reason: str) -> None:
    seen = _spy(monkeypatch)
    table = TABLE.set_column(TABLE.schema.get_field_index(column), column, pa.array(values))
    result = run("events", _write(tmp_path / "e.parquet", table))
    assert seen == [False]
    assert result.rejected == 1
    [reject] = read_rejects(result.rejects_file)
    assert reject["line"] == line and reason in reject["reason"]


def test_statistics_name_only_columns_with_a_value_everywhere(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.parquet", TABLE)
    con = duckdb.connect()
    source = open_source(con, path, "parquet", ColumnMapping())
    assert source.never_empty == {"event_id", "contact_id", "type", "occurred_at"}  # url has '' and NULL
    bare = open_source(con, _write(tmp_path / "n.parquet", TABLE, statistics=False), "parquet",
                       ColumnMapping())
    assert bare.never_empty == frozenset()


def test_mapped_or_retyped_columns_take_the_full_path(run: Run, store: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(monkeypatch)
    text_times = TABLE.set_column(3, "occurred_at", pa.array(["2024-05-01", "2024-05-02", "x",
                                                               "2024-05-04", "2024-05-05"]))
    result = run("events", _write(tmp_path / "t.parquet", text_times))
    assert seen == [False] and result.rejected == 1  # text that must parse as a timestamp
    with Store.open(tmp_path / "mapped.duckdb") as other:
        mapped = importer.import_file(other, "events", _write(tmp_path / "m.parquet", TABLE),
                                      mapping=ColumnMapping(values={"type": {"page_view": "visit"}}),
                                      rejects_dir=tmp_path / "rejects")
        assert seen[-1] is True  # a value map cannot empty a value: still proven
        assert mapped.inserted == 4
        assert rows(other, "SELECT count(*) FROM events WHERE type = 'visit'") == [(2,)]


def test_a_float_nan_is_a_missing_value(run: Run, store: Store, tmp_path: Path) -> None:
    """pandas writes NaN for "missing"; stored, DuckDB would sort it above every number."""
    table = pa.table({"contact_id": ["n1", "n2", "n3"], "revenue": pa.array([float("nan"), 5e6, None], pa.float64()),
                      "score_hint": pa.array([float("nan"), 1.5, 2.0], pa.float32())})
    result = run("contacts", _write(tmp_path / "nan.parquet", table))
    assert (result.inserted, result.rejected) == (3, 0)
    assert rows(store, "SELECT contact_id, revenue, score_hint FROM contacts ORDER BY 1") == [
        ("n1", None, None), ("n2", 5e6, 1.5), ("n3", None, 2.0)]
    assert rows(store, "SELECT count(*) FROM contacts WHERE revenue > 1e6") == [(1,)]


def test_parquet_columns_named_like_the_importers_own(run: Run, store: Store, tmp_path: Path) -> None:
    table = pa.table({"contact_id": ["r1", "r2"], "__row": [10, 30], "__bad": ["x", "y"]})
    result = run("contacts", _write(tmp_path / "own.parquet", table))
    assert (result.inserted, result.rejected) == (2, 0)
    assert rows(store, "SELECT contact_id, \"row\", bad FROM contacts ORDER BY 1") == [("r1", 10, "x"), ("r2", 30, "y")]
    clash = pa.table({"contact_id": ["r3"], "file_row_number": [1]})
    with pytest.raises(ImportError_, match="file_row_number"):
        run("contacts", _write(tmp_path / "clash.parquet", clash))
