"""``storage.lookup_index``: the server's indexes by contact, what DuckDB does with them, and imports dropping them."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.ingest.importer import import_file
from leadscore.storage.lookup_index import (
    BOUND_KEYS,
    LOOKUP_INDEXES,
    drop_lookup_indexes,
    ensure_lookup_indexes,
    existing_lookup_indexes,
    key_filter,
)
from leadscore.storage.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "s.duckdb")
    with store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id) SELECT 'c' || i FROM range(2000) t(i)")
        con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                    "SELECT 'e' || i, 'c' || (i % 2000), 'page_view', TIMESTAMP '2025-01-01' + i * INTERVAL 1 MINUTE "
                    "FROM range(40000) t(i)")
    return store


def _rows(store: Store, keys: list[str]) -> list[tuple[str, str]]:
    where, params = key_filter("contact_id", keys)
    return sorted(store.con.execute(f"SELECT contact_id, event_id FROM events WHERE {where}", params).fetchall())


def test_lookups_by_key_read_the_same_rows_with_and_without_the_indexes(store: Store) -> None:
    few, many = ["c7", "c1999", "nobody"], [f"c{i}" for i in range(BOUND_KEYS + 50)]
    assert len(many) > BOUND_KEYS
    scanned = (_rows(store, few), _rows(store, many))
    assert len(scanned[0]) == 40 and len(scanned[1]) == (BOUND_KEYS + 50) * 20
    assert ensure_lookup_indexes(store) >= 0
    assert existing_lookup_indexes(store.con) == set(LOOKUP_INDEXES)
    where, params = key_filter("contact_id", few)
    plan = store.con.execute(f"EXPLAIN ANALYZE SELECT * FROM events WHERE {where}", params).fetchall()[0][1]
    assert "Index Scan" in plan  # decided when the query runs: the bound keys reach the scan
    assert (_rows(store, few), _rows(store, many)) == scanned
    with pytest.raises(_Undo), store.transaction() as con:  # the writer's own uncommitted rows count
        con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                    "VALUES ('new', 'c7', 'page_view', TIMESTAMP '2026-01-01')")
        assert ("c7", "new") in _rows(store, ["c7"])
        raise _Undo
    assert _rows(store, few) == scanned[0]


class _Undo(Exception):
    """Rolls a transaction back."""


def test_an_import_drops_them_in_its_transaction_and_the_next_start_builds_them(store: Store, tmp_path: Path) -> None:
    ensure_lookup_indexes(store)
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,contact_id,type,occurred_at\nx1,c1,page_view,not a date\n")
    with pytest.raises(Exception):  # noqa: B017,PT011 - the import fails and rolls back: indexes stay
        import_file(store, "events", bad, strict=True)
    assert existing_lookup_indexes(store.con) == set(LOOKUP_INDEXES)
    good = tmp_path / "good.csv"
    good.write_text("event_id,contact_id,type,occurred_at\nx2,c1,page_view,2025-06-01 10:00\n")
    result = import_file(store, "events", good)
    assert result.inserted == 1
    assert existing_lookup_indexes(store.con) == {"ls_lookup_history_contact"}  # an import writes no history
    ensure_lookup_indexes(store)
    assert ("c1", "x2") in _rows(store, ["c1"])
    drop_lookup_indexes(store.con, ("events",))
    assert existing_lookup_indexes(store.con) == {"ls_lookup_contacts_contact", "ls_lookup_history_contact"}


def test_a_batch_of_contacts_is_looked_up_by_index(store: Store) -> None:
    """A batch request's contacts (hundreds) are bound one by one too: DuckDB answers them from the
    index instead of scanning the events (at 20M time-ordered events, 500 contacts: a scan cost
    ~2x the CPU of the index lookups, measured)."""
    ensure_lookup_indexes(store)
    keys = [f"c{i}" for i in range(0, 2000, 20)]  # 2,000 rows: DuckDB's index_scan_max_count (2,048)
    assert len(keys) == 100 <= BOUND_KEYS  # larger stores: up to 0.1% of the rows (20,000 at 20M)
    where, params = key_filter("contact_id", keys)
    plan = store.con.execute(f"EXPLAIN ANALYZE SELECT * FROM events WHERE {where}", params).fetchall()[0][1]
    assert "Index Scan" in plan
    assert len(_rows(store, keys)) == 100 * 20
