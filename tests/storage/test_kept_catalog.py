"""The server keeps model versions and column types between transactions (``storage.store._Catalog``):
right after every publish, never newer than a transaction's own snapshot, off elsewhere."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from leadscore.storage.store import Store


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "c.duckdb")
    store.publish_model("a", "text a1", "h-a1", None, ["g"])
    store.keep_catalog()
    return store


def _latest(store: Store) -> dict[str, int]:
    return {v.model: v.version for v in store.latest_versions()}


def test_versions_are_kept_until_a_publish_commits(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert _latest(store) == {"a": 1}
    # a row written behind the store's back (nothing in the server does): the kept copy answers
    store.con.execute("INSERT INTO model_versions SELECT 'b', 1, 'h', 't', NULL, now(), NULL, ['g']")
    assert _latest(store) == {"a": 1}
    store.publish_model("a", "text a2", "h-a2", None, ["g"])
    assert _latest(store) == {"a": 2, "b": 1}  # the publish's commit: read again
    store.keep_catalog(False)
    store.con.execute("DELETE FROM model_versions WHERE model = 'b'")
    assert _latest(store) == {"a": 2}  # off: the table every time


def test_a_transaction_sees_its_snapshot_and_its_own_publish(tmp_path: Path) -> None:
    store = _store(tmp_path)
    side = store.cursor()  # the writer's side lane, say
    begun, published = threading.Event(), threading.Event()
    seen: list[dict[str, int]] = []

    def reader() -> None:
        with side.transaction():
            seen.append(_latest(side))  # before the publish: fills the copy
            begun.set()
            assert published.wait(10)
            seen.append(_latest(side))  # its snapshot predates the publish
        seen.append(_latest(side))

    t = threading.Thread(target=reader)
    t.start()
    assert begun.wait(10)
    with store.transaction():
        store.publish_model("a", "text a2", "h-a2", None, ["g"])
        assert _latest(store) == {"a": 2}  # its own, uncommitted
        assert _latest(store.cursor()) == {"a": 1}  # others: not yet
    published.set()
    t.join(10)
    assert seen == [{"a": 1}, {"a": 1}, {"a": 2}]
    with pytest.raises(RuntimeError), store.transaction():
        store.publish_model("a", "text a3", "h-a3", None, ["g"])
        raise RuntimeError("rolled back")
    assert _latest(store) == {"a": 2}


def test_column_types_are_kept(tmp_path: Path) -> None:
    store = _store(tmp_path)
    events = store.column_types("events")
    store.con.execute("ALTER TABLE events ADD COLUMN extra VARCHAR")  # only imports do: not in the server
    assert store.cursor().column_types("events") == events
    store.keep_catalog(False)
    assert "extra" in store.column_types("events")
