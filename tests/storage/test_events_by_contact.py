"""``storage.events_by_contact``: the server's copy of the events' scoring columns, always the table's rows."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from leadscore.engine.realtime import RT_EVENTS, copy_rows
from leadscore.model.loader import parse_model
from leadscore.model.spec import ScoringModel
from leadscore.storage import contact_groups, events_by_contact
from leadscore.storage import store as store_module
from leadscore.storage.events_by_contact import EventsByContact
from leadscore.storage.store import Store

COLUMNS = ("type", "occurred_at", "url")
IDS = [f"c{i}" for i in range(300)] + ["Zürich-1", "o'neil", "c1" + "x" * 30]

MODEL = """\
version: 1
name: m
tiers: {cold: 0, hot: 5}
groups:
  g:
    rules:
      - {name: pricing, when: {event: page_view, where: {url: {contains: /pricing}}}, points: 5}
"""


class _Undo(Exception):
    """Rolls a transaction back."""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "s.duckdb")
    with store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id) SELECT unnest(?)", [IDS])
        con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) "
                    "SELECT 'e' || i, (?)[1 + (i * 7919) % ?], "
                    "CASE WHEN i % 3 = 0 THEN 'page_view' ELSE 'email_open' END, "
                    "TIMESTAMP '2025-01-01' + i * INTERVAL 1 MINUTE, CASE WHEN i % 5 = 0 THEN '/pricing' END "
                    "FROM range(6000) t(i)", [IDS[:-1], len(IDS) - 1])  # the last id has no event
    return store


def _insert(store: Store, rows: list[tuple[str, str, str, str | None]]) -> None:
    """Insert events as ``api.writes`` does, telling the copy what the insert returned."""
    memory = store.events_memory
    assert memory is not None
    inserted = store.con.sql(
        "INSERT INTO events (event_id, contact_id, type, occurred_at, url) "
        "SELECT e, c, t, TIMESTAMP '2026-01-01', u FROM (SELECT unnest(?) AS r) s, "
        "LATERAL (SELECT r[1] AS e, r[2] AS c, r[3] AS t, r[4] AS u) "
        f"RETURNING contact_id, {', '.join(memory.columns)}", params=[[list(r) for r in rows]])
    assert inserted is not None
    memory.appended(store, inserted.to_arrow_table())


def _table(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    return sorted(store.con.execute("SELECT contact_id, type, occurred_at, url FROM events "
                                    "WHERE contact_id IN (SELECT unnest(?))", [ids]).fetchall(), key=repr)


def _held(memory: EventsByContact, ids: list[str]) -> list[tuple[Any, ...]]:
    rows = memory.rows(ids).select(["contact_id", *COLUMNS]).to_pylist()
    return sorted((tuple(r.values()) for r in rows), key=repr)


def _built(store: Store) -> EventsByContact:
    memory = EventsByContact.build(store, ["url"])
    assert memory is not None and memory.columns == COLUMNS
    store.events_memory = memory
    return memory


def test_it_holds_each_contacts_rows_as_the_table_does(store: Store) -> None:
    memory = _built(store)
    rng = random.Random(3)
    for _ in range(20):
        ids = rng.sample(IDS, rng.randint(1, 40)) + ["nobody", "c1" + "x" * 60]
        assert _held(memory, ids) == _table(store, ids)
    assert memory.rows([]).num_rows == 0 and memory.rows(["nobody"]).num_rows == 0
    assert memory.rows_held == 6000 and memory.usable(store)


def test_new_rows_count_in_their_transaction_and_after_commit_never_after_rollback(store: Store) -> None:
    memory = _built(store)
    with pytest.raises(_Undo), store.transaction():
        _insert(store, [("x1", "c5", "page_view", "/pricing"), ("x2", "new", "demo_request", None)])
        assert _held(memory, ["c5", "new"]) == _table(store, ["c5", "new"])
        assert memory.usable(store)
        raise _Undo
    assert _held(memory, ["c5", "new"]) == _table(store, ["c5", "new"]) and memory.rows(["new"]).num_rows == 0
    assert memory.usable(store)
    with store.transaction():
        _insert(store, [("x1", "c5", "page_view", "/pricing"), ("x2", "new", "demo_request", None)])
    _insert(store, [("x3", "new", "page_view", "/a")])  # autocommit
    assert memory.rows(["new"]).num_rows == 2 and memory.usable(store)
    assert _held(memory, IDS + ["new"]) == _table(store, IDS + ["new"])


def test_a_commit_that_fails_leaves_nothing_held(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = _built(store)

    def fail(name: str) -> None:
        if name == "store.commit":
            raise OSError("disk full")

    monkeypatch.setattr(store_module, "fault_point", fail)
    with pytest.raises(OSError), store.transaction():
        _insert(store, [("x1", "c5", "page_view", None)])
    store.con.execute("ROLLBACK")  # what DuckDB does with a transaction whose commit failed
    assert memory.usable(store) and _held(memory, ["c5"]) == _table(store, ["c5"])


def test_the_tail_merged_into_the_base_changes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = _built(store)
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 50)
    rng = random.Random(5)
    for n in range(4):
        with store.transaction():
            _insert(store, [(f"t{n}-{i}", rng.choice([*IDS, "later"]), "page_view", rng.choice([None, "/pricing"]))
                            for i in range(20)])
        assert _held(memory, [*IDS, "later"]) == _table(store, [*IDS, "later"])  # a merge may be under way
    memory._take_merged(None)  # the merge on its thread, swapped in
    assert memory._tail_rows < 50 and memory._merging is None and memory._base_rows >= 6050
    assert _held(memory, [*IDS, "later"]) == _table(store, [*IDS, "later"])
    assert memory.rows_held == 6080 and memory.usable(store)


def test_a_write_it_was_not_told_of_drops_it_and_the_table_is_read(store: Store) -> None:
    memory = _built(store)
    model = parse_model(MODEL, "m.yml").model
    assert isinstance(model, ScoringModel)
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) "
                      "VALUES ('raw', 'c9', 'page_view', TIMESTAMP '2026-01-01', '/pricing')")
    with store.transaction() as con:
        copy_rows(store, model, ["c9", "c10"])
        assert memory.broken and not memory.covers(["url"])
        assert sorted(con.execute(f"SELECT * FROM {RT_EVENTS}").fetchall(), key=repr) == _table(store, ["c9", "c10"])


def test_the_sql_path_reads_the_copy_typed_as_stored(store: Store) -> None:
    memory = _built(store)
    model = parse_model(MODEL, "m.yml").model
    assert isinstance(model, ScoringModel)
    with store.transaction() as con:
        _insert(store, [("x1", "c9", "page_view", "/pricing")])
        copy_rows(store, model, ["c9", "c10", "nobody"])
        assert not memory.broken
        assert [r[:2] for r in con.execute(f"DESCRIBE {RT_EVENTS}").fetchall()] == [r[:2] for r in con.execute(
            "DESCRIBE SELECT contact_id, type, occurred_at, url FROM events").fetchall()]
        assert sorted(con.execute(f"SELECT * FROM {RT_EVENTS}").fetchall(), key=repr) == _table(
            store, ["c9", "c10", "nobody"])


def test_columns_not_held_are_left_to_the_table(store: Store) -> None:
    memory = _built(store)
    assert memory.covers(["contact_id", "type", "url"]) and not memory.covers(["campaign"])
    store.con.execute("ALTER TABLE events ADD COLUMN amount INTERVAL")
    assert EventsByContact.build(store, ["amount"]) is None  # a type whose round trip is not known exact
    assert EventsByContact.build(store, ["campaign"]) is not None


def test_an_empty_table_and_the_memory_it_takes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "e.duckdb")
    memory = EventsByContact.build(store, ["url"])
    assert memory is not None and memory.rows(["c1"]).num_rows == 0 and memory.nbytes >= 0
    store.events_memory = memory
    _insert(store, [("x1", "c1", "page_view", None)])
    assert memory.rows(["c1"]).column("type").to_pylist() == ["page_view"]
    assert isinstance(memory.rows(["c1"]).column("occurred_at").type, pa.TimestampType)


def test_a_merge_that_fails_on_its_thread_drops_the_copy(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = _built(store)

    def fail(*args: object) -> None:
        raise MemoryError("no room to merge")

    monkeypatch.setattr(contact_groups, "merged", fail)
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 1)
    _insert(store, [("f1", "c1", "page_view", None)])
    memory._take_merged(None)
    assert memory.broken and not memory.usable(store)


def test_a_contact_id_with_a_nul_character_is_never_merged_into_the_sorted_ids(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = _built(store)
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 1)
    _insert(store, [("z1", "c1\x00", "page_view", None)])  # "c1" padded with NUL would be "c1"
    assert memory.broken and not memory.copy_into(store, "_t", ["c1"], ["contact_id", "type"])


def test_a_long_contact_id_is_never_held_at_fixed_width(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: the sorted ids are as wide as the longest one, so one 10 kB id made 1M ids
    take 10 GB. A longer id than ``MAX_ID_BYTES`` in the table means no copy; in the tail, the copy
    is dropped at its merge and the table read."""
    memory = _built(store)
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 1)
    long_id = "ü" * events_by_contact.MAX_ID_BYTES  # twice as many bytes as characters
    with store.transaction():
        store.con.execute("INSERT INTO contacts (contact_id) VALUES (?)", [long_id])
        _insert(store, [("l1", long_id, "page_view", None)])
    assert memory.broken and not memory.copy_into(store, "_t", ["c1"], ["contact_id", "type"])
    assert EventsByContact.build(store, ["url"]) is None  # the table holds it now


def test_a_failure_after_commit_keeps_the_commit_and_drops_the_copy(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: a merge thread that could not start made the committed transaction raise,
    and every later commit and read failed with "cannot join thread before it is started"."""
    memory = _built(store)
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 1)

    def no_thread(self: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(events_by_contact.threading.Thread, "start", no_thread)
    with store.transaction():  # does not raise: the rows are committed
        _insert(store, [("n1", "c1", "page_view", None)])
    assert store.con.execute("SELECT count(*) FROM events WHERE event_id = 'n1'").fetchall() == [(1,)]
    assert memory.broken and memory._merging is None
    with store.transaction():  # later writes go on; the table is read
        _insert(store, [("n2", "c2", "page_view", None)])
    assert not memory.copy_into(store, "_t", ["c1"], ["contact_id", "type"])
