"""``engine.score_rowids``: the server finds a contact's ``scores`` rows by row id, never trusting a
row id it has not checked (DuckDB moves rows when a checkpoint vacuums deletes).

A store of 300,000 scores rows (three row groups) stored out of contact order, as a scheduled
rescoring leaves ``scores`` once single events were rescored between its parts: a read by
``contact_id`` then scans every row group, a read through the map one.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.workflows.helpers import AS_OF, MakeWs

from leadscore.engine import score_rowids
from leadscore.engine.score_rowids import LOCAL_ROWIDS
from leadscore.engine.stored_scores import SCORE_COLUMNS, StoredScores
from leadscore.scoring import score_all, score_contacts
from leadscore.storage.store import Store

ROWS = 300_000
COLUMNS = ", ".join(SCORE_COLUMNS[1:])


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "s.duckdb")
    # contacts in a scattered order (i * 7919 mod ROWS): every row group spans every contact id
    store.con.execute(f"""INSERT INTO scores SELECT 'm', 'c' || lpad(((i * 7919) % {ROWS})::VARCHAR, 6, '0'),
                          1, i % 100, 'cold', NULL, [1.0], $t, $t, 'r' FROM range({ROWS}) r(i)""",
                      {"t": datetime(2025, 1, 1)})
    store.con.execute("CHECKPOINT")
    return store


def _scanned(store: Store, tmp_path: Path, fn: Any) -> tuple[Any, int]:
    """``fn()``'s value and the rows DuckDB scanned for the statements it ran (its profiler)."""
    out = tmp_path / "profile.json"
    con = store.con
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    try:
        result = fn()
    finally:
        con.execute("PRAGMA disable_profiling")
    return result, json.loads(out.read_text())["query"]["total_rows_scanned"]


def _table(store: Store, contact: str) -> list[tuple[Any, ...]]:
    return sorted(store.con.execute(f"SELECT rowid, contact_id, model, {COLUMNS} FROM scores WHERE contact_id = ?",
                                    [contact]).fetchall())


def test_rows_are_fetched_by_row_id_not_by_a_scan(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    assert len(hints) == ROWS
    rows, scanned = _scanned(store, tmp_path, lambda: hints.rows(store.con, ["c012345"], ["m"], COLUMNS))
    assert rows is not None and sorted(rows) == _table(store, "c012345")
    assert scanned <= 122_880  # the row group holding the row (rows by id); the others pruned
    _, by_key = _scanned(store, tmp_path, lambda: _table(store, "c012345"))
    assert by_key == ROWS  # what the read by contact_id costs on this layout


def test_a_rewritten_row_is_found_past_the_known_rows(tmp_path: Path) -> None:
    """A rescoring deletes the row and appends a new one: the next read finds it among the rows
    appended since (by row id range), and the map learns it."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    for score in (1.5, 2.5, 3.5):
        with store.transaction() as con:
            con.execute("DELETE FROM scores WHERE contact_id = 'c000007'")
            con.execute("INSERT INTO scores VALUES ('m', 'c000007', 2, ?, 'hot', NULL, [2.0], now(), now(), 'r2')",
                        [score])
            # inside the transaction the new row has a transaction-local id: read, never remembered
            rows = hints.rows(con, ["c000007"], ["m"], COLUMNS)
            assert rows is not None and [r[4] for r in rows] == [score]
            assert all(r < LOCAL_ROWIDS for at in hints._at.values() for r in at.values())
        rows = hints.rows(store.con, ["c000007"], ["m"], COLUMNS)
        assert rows is not None and sorted(rows) == _table(store, "c000007")
    assert hints.resets == 0 and hints.fell_back == 0


def test_rows_moved_by_a_vacuum_are_never_trusted(tmp_path: Path) -> None:
    """Deleting most rows and checkpointing renumbers the rest: a known row id now holds another
    contact's row (or none). The map gives up, is dropped, and the caller's scan answers."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    [(kept,)] = store.con.execute("SELECT contact_id FROM scores WHERE rowid = 260000").fetchall()
    store.con.execute("DELETE FROM scores WHERE rowid < 240000 AND rowid % 10 <> 0")
    store.con.execute("CHECKPOINT")
    [(now,)] = store.con.execute("SELECT rowid FROM scores WHERE contact_id = ?", [kept]).fetchall()
    assert now != hints._at["m"][kept]  # the vacuum did move it
    assert hints.rows(store.con, [kept], ["m"], COLUMNS) is None
    assert hints.resets == 1 and len(hints) == 0
    with store.transaction():
        view = StoredScores.read(store, [kept], ["m"])  # the scan answers
    assert view.rows_of(kept) == [r[2:] for r in _table(store, kept)]
    # the map is read again on a thread of its own, not a chunk per read on the writer's connection:
    # meanwhile reads go to the scan
    hints.wait(60)
    [(live,)] = store.con.execute("SELECT count(*) FROM scores").fetchall()
    assert not hints.rebuilding() and len(hints) == live and hints.resets == 1
    rows = hints.rows(store.con, [kept], ["m"], COLUMNS)
    assert rows is not None and sorted(rows) == _table(store, kept)


def test_a_reset_map_is_read_again_off_the_writers_transactions(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After a reset no read pays for catching up (10,000 rows, ~12 ms, on one event's
    transaction): they scan until the thread's map is swapped in, rows committed meanwhile
    come after its ``seen`` and are read by range."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    hints.learn([("m", "c000003", hints._at["m"]["c000002"])])  # a wrong hint: the next read resets
    go = threading.Event()
    read_again = hints._read_again
    monkeypatch.setattr(hints, "_read_again", lambda reader: (go.wait(60), read_again(reader)))
    assert hints.rows(store.con, ["c000003"], ["m"], COLUMNS) is None and hints.resets == 1
    for _ in range(3):  # the rebuild is held up: every read scans, none reads the map's rows
        assert hints.rows(store.con, ["c000009"], ["m"], COLUMNS) is None and hints.rebuilding()
        assert hints.seen == -1 and len(hints) == 0
    go.set()
    hints.wait(60)
    with store.transaction() as con:  # committed after the rebuild's snapshot: read by range
        con.execute("DELETE FROM scores WHERE contact_id = 'c000009'")
        con.execute("INSERT INTO scores VALUES ('m', 'c000009', 2, 7, 'hot', NULL, [2.0], now(), now(), 'r2')")
    for contact in ("c000003", "c000009"):
        rows = hints.rows(store.con, [contact], ["m"], COLUMNS)
        assert rows is not None and sorted(rows) == _table(store, contact)
    assert hints.resets == 1 and hints.found == 2
    hints.reset()  # a rebuild under way when the server stops: it ends, its cursor closed
    thread = hints._rebuild
    score_rowids.detach(store)
    assert thread is not None and not thread.is_alive() and score_rowids.attached(store) is None


def test_a_row_id_pointing_at_another_contacts_row_is_not_taken(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    other = hints._at["m"]["c000002"]
    hints.learn([("m", "c000003", other)])  # as if a vacuum had put c000002's row where c000003's was
    assert hints.rows(store.con, ["c000003"], ["m"], COLUMNS) is None and hints.resets == 1


def test_a_model_or_contact_it_never_saw_is_left_to_the_scan(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    assert hints.rows(store.con, ["c000005"], ["m", "new_model"], COLUMNS) is None
    assert hints.rows(store.con, ["nobody"], ["m"], COLUMNS) is None
    assert hints.resets == 0 and hints.fell_back == 2


def test_catching_up_is_bounded_per_read(tmp_path: Path) -> None:
    """After a whole-base rewrite the map learns the new rows a chunk per read; reads stay right."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    hints.chunk = 50_000
    with store.transaction() as con:  # every row deleted and appended again, as a whole-base run writes
        con.execute("CREATE TEMP TABLE old AS SELECT * FROM scores")
        con.execute("DELETE FROM scores")
        con.execute("INSERT INTO scores SELECT * REPLACE (score + 1 AS score) FROM old")
    for contact in ("c000010", "c100000", "c299999", "c000010"):
        rows = hints.rows(store.con, [contact], ["m"], COLUMNS)
        assert rows is not None and sorted(rows) == _table(store, contact)
    assert hints.seen < store.con.execute("SELECT max(rowid) FROM scores").fetchone()[0]  # not all read yet


def test_the_real_time_path_uses_the_map_and_answers_the_table(make_ws: MakeWs) -> None:
    """``score_contacts`` as the server runs it, the map attached: rows read by id (no fallback
    after the first read of a contact), the response's rows = the table after commit, one row per
    model and contact."""
    ws = make_ws("")
    with ws.open_store() as store:
        score_all(store, as_of=AS_OF)
        hints = score_rowids.attach(store)
        for _ in range(3):
            for ids in (["k1"], ["k2", "k3"], ["k1"]):
                with store.transaction():
                    runs = score_contacts(store, ids, as_of=AS_OF)
                assert runs.stored is not None
                for cid in ids:
                    assert runs.stored.rows_of(cid) == store.con.execute(
                        f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores WHERE contact_id = ? ORDER BY model",
                        [cid]).fetchall()
        assert hints.fell_back == 0 and hints.found == 9
        assert store.con.execute("SELECT count(*) FROM (SELECT model, contact_id FROM scores "
                                 "GROUP BY ALL HAVING count(*) > 1)").fetchone() == (0,)
        score_rowids.detach(store)


def test_many_rows_are_left_to_the_scan(tmp_path: Path) -> None:
    """Past ``max_hints`` rows one ``UNION ALL`` branch per row costs more than one scan: the map
    leaves such a read to the caller (no reset), and the scan answers."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    assert hints.max_hints() == score_rowids.MIN_HINTS  # 300k rows: the floor
    few = [f"c{i:06d}" for i in range(hints.max_hints())]
    rows = hints.rows(store.con, few, ["m"], COLUMNS)
    assert rows is not None and len(rows) == len(few)
    many = [f"c{i:06d}" for i in range(hints.max_hints() + 1)]
    assert hints.rows(store.con, many, ["m"], COLUMNS) is None
    assert hints.fell_back == 1 and hints.resets == 0 and hints.found == 1
    with store.transaction():
        view = StoredScores.read(store, many, ["m"])
    assert view.rows_of("c000000") == [r[2:] for r in _table(store, "c000000")]


def test_a_contact_created_in_the_transaction_needs_no_scan(tmp_path: Path) -> None:
    """A contact whose ``contacts`` row this transaction inserted has no committed scores row: the
    map vouches for it (its rows, if any, are among the rows past ``seen``) beside a known one."""
    store = _store(tmp_path)
    hints = score_rowids.attach(store)
    with store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id) VALUES ('fresh')")
        rows = hints.rows(con, ["fresh", "c000004"], ["m"], COLUMNS)
        assert rows is not None and sorted(rows) == _table(store, "c000004")
        con.execute("INSERT INTO scores VALUES ('m', 'fresh', 1, 9, 'hot', NULL, [2.0], now(), now(), 'r2')")
        rows = hints.rows(con, ["fresh"], ["m"], COLUMNS)
        assert rows is not None and [(r[1], r[4]) for r in rows] == [("fresh", 9)]
    # a committed contact with no row of a model: not vouched for (a vacuum may have moved its row)
    store.con.execute("INSERT INTO contacts (contact_id) VALUES ('old')")
    assert hints.rows(store.con, ["old"], ["m"], COLUMNS) is None
    assert hints.fell_back == 1 and hints.resets == 0


def test_two_rows_of_a_key_are_both_replaced(make_ws: MakeWs) -> None:
    """A duplicate (two live rows of one model and contact) seen by the map's catch-up: the read of
    that contact is left to the scan, so the rescoring deletes both rows by key (the map's one
    row id would delete one and leave the other untouched), as it did before the map."""
    ws = make_ws("")
    with ws.open_store() as store:
        score_all(store, as_of=AS_OF)
        store.con.execute("INSERT INTO scores SELECT * FROM scores WHERE contact_id = 'k1'")
        old = {r for (r,) in store.con.execute("SELECT rowid FROM scores WHERE contact_id = 'k1'").fetchall()}
        hints = score_rowids.attach(store)
        with store.transaction():
            score_contacts(store, ["k1"], as_of=AS_OF)
        now = {r for (r,) in store.con.execute("SELECT rowid FROM scores WHERE contact_id = 'k1'").fetchall()}
        assert len(old) == 2 and not old & now
        assert hints.fell_back == 1 and hints.resets == 0 and hints.found == 0
        with store.transaction():
            runs = score_contacts(store, ["k2"], as_of=AS_OF)  # other contacts: from the map
        assert hints.found == 1 and runs.stored is not None
        score_rowids.detach(store)


def test_a_held_models_duplicate_stays_marked_until_that_model_runs(tmp_path: Path) -> None:
    """A read for model ``m`` only (``m2`` held after a failure) falls back to the scan, which
    deletes ``m``'s rows by key, not ``m2``'s: ``m2``'s twin must stay marked, or the read after
    ``m2`` is released would trust one row id while two rows are live (review of i17j)."""
    t = datetime(2025, 1, 1)
    with Store.open(tmp_path / "s.duckdb") as store:
        for m in ("m", "m2"):
            store.con.execute(f"""INSERT INTO scores SELECT '{m}', 'c' || lpad(i::VARCHAR, 6, '0'), 1, i % 100,
                                  'cold', NULL, [1.0], $t, $t, 'r' FROM range(1000) r(i)""", {"t": t})
        store.con.execute("INSERT INTO scores SELECT * FROM scores WHERE model = 'm2' AND contact_id = 'c000001'")
        hints = score_rowids.attach(store)
        assert ("m2", "c000001") in hints.doubled
        with store.transaction():
            StoredScores.read(store, ["c000001"], ["m"])
        assert ("m2", "c000001") in hints.doubled
        with store.transaction():
            view = StoredScores.read(store, ["c000001"], ["m", "m2"])
            assert view.rowids("m2", ["c000001"]) is None  # not vouched for: the run deletes by key
        score_rowids.detach(store)
