"""The API's in-memory key checks (event ids, contact ids): exact, kept in step with its own
inserts, reloaded when the table changes behind its back."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest

from leadscore.api import stored_keys
from leadscore.api.stored_keys import StoredKeys
from leadscore.api.values import NewEvent
from leadscore.api.writes import ensure_contacts, upsert_contact, write_events
from leadscore.storage.store import Store

NOW = datetime(2025, 6, 1)


def _store(tmp_path: Path, n: int = 5000) -> tuple[Store, list[str]]:
    store = Store.open(tmp_path / "s.duckdb")
    ids = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(n)]
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                      "SELECT x, 'c1', 'page_view', TIMESTAMP '2025-01-01' FROM unnest(?::VARCHAR[]) t(x)",
                      [ids])
    return store, ids


def _event(event_id: str) -> NewEvent:
    return NewEvent(event_id, "c1", None, "page_view", NOW)


def test_stored_ids_are_found_and_new_ones_are_not(tmp_path: Path) -> None:
    store, ids = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    new = [str(uuid.uuid4()) for _ in range(50)]
    found, hashes = known.stored(store, [ids[10], new[0], ids[4999], *new[1:]])
    assert found == {ids[10], ids[4999]} and len(hashes) == 52
    assert known.stored(store, new)[0] == set() and known.reloads == 1  # loaded once


def test_own_inserts_are_known_without_reloading(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    fresh = [str(uuid.uuid4()) for _ in range(3)]
    with store.transaction():
        first = write_events(store, [_event(i) for i in fresh], {}, now=NOW, known=known)
        again = write_events(store, [_event(i) for i in fresh], {}, now=NOW, known=known)
    assert [r[2] for r in first.results] == [True] * 3 and [r[2] for r in again.results] == [False] * 3
    assert known.reloads == 1
    assert store.count("events") == 5003


def test_an_insert_behind_its_back_is_noticed(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    assert known.stored(store, ["x"])[0] == set()
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                      "VALUES ('x', 'c1', 'page_view', TIMESTAMP '2025-01-02')")
    assert known.stored(store, ["x"])[0] == {"x"} and known.reloads == 2


def test_a_rolled_back_insert_is_forgotten(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    with pytest.raises(RuntimeError), store.transaction():
        write_events(store, [_event("gone")], {}, now=NOW, known=known)
        raise RuntimeError("the group fails")
    assert known.stored(store, ["gone"])[0] == set()
    written = write_events(store, [_event("gone")], {}, now=NOW, known=known)
    assert written.results[0][2] is True


def test_merged_hashes_stay_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_keys, "MERGE_AT", 4)
    store, ids = _store(tmp_path, 100)
    known = StoredKeys("events", "event_id")
    added: list[str] = []
    for k in range(3):
        batch = [f"new-{k}-{j}" for j in range(3)]
        write_events(store, [_event(i) for i in batch], {}, now=NOW, known=known)
        added += batch
    assert known.reloads == 1 and len(known._recent) < 4  # merged into the sorted array
    probe = [*added, *ids[:5], "never-1", "never-2"]
    assert known.stored(store, probe)[0] == set(added) | set(ids[:5])


def test_contacts_known_in_memory_are_created_once(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 10)
    store.con.execute("INSERT INTO contacts (contact_id) VALUES ('c1'), ('c2')")
    contacts = StoredKeys("contacts", "contact_id")
    seen = {"c2": (NOW, None), "c3": (NOW, "c3@x.io")}
    assert ensure_contacts(store, seen, NOW, contacts) == 1
    assert ensure_contacts(store, seen, NOW, contacts) == 0
    created, _ = upsert_contact(store, "c4", {"job_title": "CEO"}, now=NOW, known=contacts)
    assert created and contacts.stored(store, ["c4", "c5"])[0] == {"c4"}
    assert contacts.reloads == 1  # every insert was its own: no reload needed
    written = write_events(store, [NewEvent("e-new", "c5", None, "page_view", NOW)], {}, now=NOW,
                           known=StoredKeys("events", "event_id"), known_contacts=contacts)
    assert written.created_contacts == 1 and contacts.reloads == 1
    assert store.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}
    assert sorted(r[0] for r in store.con.execute("SELECT contact_id FROM contacts").fetchall()) == [
        "c1", "c2", "c3", "c4", "c5"]


def test_two_lanes_do_not_reload_each_other(tmp_path: Path) -> None:
    """The writer's two lanes (api/writer.py) each see their own snapshot: the other's uncommitted
    rows are invisible, yet no reload may follow (at 20M events one costs seconds). Rows count as
    the inserting thread's until it settles them; a rolled-back insert leaves a false positive only,
    which the SQL lookup answers."""
    import threading

    store, _ = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    known.warm(store)
    side = store.cursor()
    opened, written, done = threading.Event(), threading.Event(), threading.Event()

    def other_lane() -> None:  # the side lane: writes and holds its transaction open
        with side.transaction():
            opened.set()
            write_events(side, [_event("side-1")], {}, now=NOW, known=known)
            written.set()
            assert done.wait(10)
        known.settle(True)

    t = threading.Thread(target=other_lane)
    t.start()
    assert written.wait(10)
    with store.transaction():
        assert write_events(store, [_event("main-1")], {}, now=NOW, known=known).results[0][2]
        assert known.stored(store, ["side-1", "x"])[0] == set()  # not committed: invisible here
    known.settle(True)
    done.set()
    t.join(10)
    assert known.stored(store, ["side-1", "main-1"])[0] == {"side-1", "main-1"}
    with pytest.raises(RuntimeError), store.transaction():
        write_events(store, [_event("gone")], {}, now=NOW, known=known)
        raise RuntimeError("rolled back")
    known.settle(False)
    assert known.stored(store, ["gone"])[0] == set()
    assert known.reloads == 1  # loaded once, at warm(): never again
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                      "VALUES ('behind', 'c1', 'page_view', TIMESTAMP '2025-01-02')")
    assert known.stored(store, ["behind"])[0] == {"behind"} and known.reloads == 2  # still noticed


def test_the_other_lanes_commit_not_settled_yet_reloads_nothing(tmp_path: Path) -> None:
    """The side lane's COMMIT is done a moment before it settles its rows (the writer's ``on_end``);
    a main-lane snapshot taken in between shows them. That is no foreign writer: no reload."""
    import threading

    store, _ = _store(tmp_path)
    known = StoredKeys("events", "event_id")
    known.warm(store)
    side = store.cursor()
    committed, checked = threading.Event(), threading.Event()

    def other_lane() -> None:
        with side.transaction():
            write_events(side, [_event("side-1"), _event("side-2")], {}, now=NOW, known=known)
        committed.set()  # committed, not settled yet
        assert checked.wait(10)
        known.settle(True)

    t = threading.Thread(target=other_lane)
    t.start()
    assert committed.wait(10)
    with store.transaction():
        assert known.stored(store, ["side-1", "x"])[0] == {"side-1"}
    checked.set()
    t.join(10)
    assert known.reloads == 1
    assert known.stored(store, ["side-2", "y"])[0] == {"side-2"} and known.reloads == 1
