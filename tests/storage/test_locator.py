"""``storage.locator``: a contact's rows found by row id return exactly what scanning for them
returns, whatever was committed or is still uncommitted since the map was read."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from leadscore.storage.locator import RowLocator
from leadscore.storage.store import Store

SRC = Path(__file__).parents[2] / "src" / "leadscore"


def _add_events(store: Store, rng: random.Random, n: int, contacts: int, tag: str) -> None:
    rows = [(f"{tag}-{i}", f"c{rng.randrange(contacts)}", "page_view") for i in range(n)]
    store.con.executemany(
        "INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, TIMESTAMP '2025-01-01')", rows)


def _by_scan(store: Store, keys: list[str]) -> list[str]:
    return sorted(r[0] for r in store.con.execute(
        "SELECT event_id FROM events WHERE contact_id IN (SELECT UNNEST(?))", [keys]).fetchall())


def _by_locator(store: Store, locator: RowLocator, keys: list[str]) -> list[str]:
    sql, params = locator.select(store, keys, "event_id")
    return sorted(r[0] for r in store.con.execute(sql, params).fetchall())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "s.duckdb")
    yield store
    store.close()


def test_rows_by_row_id_are_the_scanned_rows_through_commits_and_an_open_transaction(store: Store) -> None:
    rng = random.Random(3)
    _add_events(store, rng, 3000, 200, "a")
    locator = RowLocator("events", "contact_id", catch_up_at=500, rebuild_at=10**9).load(store)
    assert locator.loaded and locator.loads == 1
    keys = [f"c{i}" for i in range(0, 200, 7)] + ["nobody"]
    for step in range(6):  # committed after the map was read: the tail, then caught up in steps
        _add_events(store, rng, 300, 220, f"b{step}")
        assert _by_locator(store, locator, keys) == _by_scan(store, keys)
        assert _by_locator(store, locator, keys[:1]) == _by_scan(store, keys[:1])  # one key: bound alone
    assert locator.covered > 3000  # it caught up with the committed rows
    with store.transaction():  # a request's own rows, not yet committed (DuckDB numbers them from 2^55)
        _add_events(store, rng, 50, 220, "c")
        assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    assert locator.loads == 1
    locator.close()


def test_a_rolled_back_insert_leaves_no_trace_and_its_row_ids_are_reused(store: Store) -> None:
    rng = random.Random(4)
    _add_events(store, rng, 500, 50, "a")
    locator = RowLocator("events", "contact_id", catch_up_at=1).load(store)
    keys = [f"c{i}" for i in range(50)]
    try:
        with store.transaction():
            _add_events(store, rng, 100, 50, "gone")
            raise RuntimeError
    except RuntimeError:
        pass
    _add_events(store, rng, 100, 50, "kept")  # committed at the row ids the rolled-back rows had
    assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    assert not [e for e in _by_locator(store, locator, keys) if e.startswith("gone")]
    locator.close()


def test_the_map_is_read_again_in_the_background_and_when_rows_vanish(store: Store) -> None:
    rng = random.Random(5)
    _add_events(store, rng, 1000, 100, "a")
    locator = RowLocator("events", "contact_id", catch_up_at=1, rebuild_at=300).load(store)
    keys = [f"c{i}" for i in range(100)]
    _add_events(store, rng, 400, 100, "b")  # past rebuild_at once caught up: a background rebuild
    assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    for _ in range(100):
        if locator.loads >= 2:
            break
        time.sleep(0.05)
    assert locator.loads >= 2
    _add_events(store, rng, 20, 100, "c")
    assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    # nothing in leadscore deletes events, but should something do it the map is read again
    store.con.execute("DELETE FROM events WHERE event_id LIKE 'a-1%'")
    _add_events(store, rng, 5, 100, "d")
    loads = locator.loads
    assert _by_locator(store, locator, keys) == _by_scan(store, keys)
    assert locator.loads == loads + 1
    locator.close()


def test_without_a_loaded_map_the_key_column_is_scanned(store: Store) -> None:
    _add_events(store, random.Random(6), 100, 10, "a")
    locator = RowLocator("events", "contact_id")
    sql, _ = locator.select(store, ["c1"])
    assert "rowid" not in sql
    assert _by_locator(store, locator, ["c1", "c2"]) == _by_scan(store, ["c1", "c2"])


def test_keys_the_map_orders_unlike_duckdb_are_still_found(store: Store) -> None:
    """Python and DuckDB both order text by code point; odd keys (quotes, NUL-free controls,
    non-ASCII, a prefix of another) are found all the same."""
    keys = ["o'neil", "a", "a\x01", "ab", "Zürich", "zz", "Ω", "😀", "100%", "a_b", ""]
    store.con.executemany("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                          "VALUES (?, ?, 'x', TIMESTAMP '2025-01-01')", [(f"e{i}", k) for i, k in enumerate(keys * 3)])
    locator = RowLocator("events", "contact_id").load(store)
    for key in keys:
        assert _by_locator(store, locator, [key]) == _by_scan(store, [key]), key
    locator.close()


def test_nothing_in_leadscore_deletes_events_or_contacts() -> None:
    """The map's premise (row ids stay put): no module deletes from or rewrites these tables while
    a server holds the store. A new one that must should call ``RowLocator.load_again``."""
    pattern = re.compile(r"(DELETE\s+FROM|TRUNCATE)\s+(events|contacts)\b", re.IGNORECASE)
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == ["bench/api_large.py"]  # it rewrites a bench store before any server opens it
