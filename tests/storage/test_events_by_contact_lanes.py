"""``storage.events_by_contact`` with the writer's two lanes (``api/writer.py``): each lane's open
transaction sees its own pending rows and every commit up to its snapshot, never the other lane's
pending rows nor what it committed after that snapshot; a lane's rollback drops its rows only."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from tests.storage.test_events_by_contact import _built, _held, _insert, _table, store  # noqa: F401 - fixture

from leadscore.storage import events_by_contact
from leadscore.storage.events_by_contact import EventsByContact
from leadscore.storage.store import Store

WATCHED = ["c5", "c6", "new", "other"]


class _Lane:
    """A thread with its own cursor, running the steps it is handed one at a time (a writer lane)."""

    def __init__(self, cursor: Store) -> None:
        self.store = cursor
        self._steps: queue.Queue[tuple[Callable[[Store], Any], queue.Queue[Any]] | None] = queue.Queue()
        self._open: AbstractContextManager[Any] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (step := self._steps.get()) is not None:
            fn, answer = step
            try:
                answer.put((True, fn(self.store)))
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                answer.put((False, exc))

    def do(self, fn: Callable[[Store], Any]) -> Any:
        answer: queue.Queue[Any] = queue.Queue()
        self._steps.put((fn, answer))
        ok, value = answer.get(timeout=30)
        if not ok:
            raise value
        return value

    def later(self, fn: Callable[[Store], Any]) -> queue.Queue[Any]:
        """Start a step and return at once (its answer comes on the queue returned)."""
        answer: queue.Queue[Any] = queue.Queue()
        self._steps.put((fn, answer))
        return answer

    def begin(self) -> None:
        def begin(cursor: Store) -> None:
            self._open = cursor.transaction()
            self._open.__enter__()
            cursor.con.execute("SELECT count(*) FROM contacts").fetchall()  # the snapshot is taken here
        self.do(begin)

    def end(self, commit: bool = True) -> None:
        def end(cursor: Store) -> None:
            assert self._open is not None
            opened, self._open = self._open, None
            if commit:
                opened.__exit__(None, None, None)
            else:
                opened.__exit__(_Undo, _Undo(), None)
        self.do(end)

    def sees(self, memory: EventsByContact, ids: list[str] = WATCHED) -> bool:
        """Whether the copy is usable here and holds exactly the rows this lane's transaction sees."""
        return bool(self.do(lambda s: memory.usable(s) and _held(memory, ids) == _table(s, ids)))

    def stop(self) -> None:
        self._steps.put(None)
        self._thread.join(10)


class _Undo(Exception):
    """Rolls a lane's transaction back."""


@pytest.fixture
def lanes(store: Store) -> Iterator[tuple[EventsByContact, _Lane, _Lane]]:  # noqa: F811 - the fixture
    memory = _built(store)
    side = store.cursor()
    side.events_memory = memory
    main, other = _Lane(store), _Lane(side)
    yield memory, main, other
    main.stop()
    other.stop()


def test_each_lane_sees_its_own_rows_and_commits_up_to_its_snapshot(
        lanes: tuple[EventsByContact, _Lane, _Lane]) -> None:
    memory, main, side = lanes
    main.begin()
    assert main.sees(memory)
    main.do(lambda s: _insert(s, [("m1", "c5", "page_view", "/pricing"), ("m2", "new", "page_view", None)]))
    assert main.sees(memory)
    side.begin()
    assert side.sees(memory)  # not the main lane's pending rows
    side.do(lambda s: _insert(s, [("s1", "c5", "email_open", None), ("s2", "other", "page_view", "/a")]))
    assert side.sees(memory)  # its own
    side.end()
    # committed after the main lane's snapshot: not in what it sees, as DuckDB does not show them
    assert main.sees(memory) and main.do(lambda s: memory.rows(["other"]).num_rows) == 0
    side.begin()  # a snapshot after its commit: its rows, not the main lane's pending ones
    assert side.sees(memory) and side.do(lambda s: memory.rows(["other"]).num_rows) == 1
    side.end()
    main.end()
    for lane in (main, side):
        lane.begin()
        assert lane.sees(memory, [*WATCHED, "c1", "c2"]) and lane.do(lambda s: memory.rows(["new"]).num_rows) == 1
        lane.end()
    assert not memory.broken


def test_a_snapshot_taken_before_the_other_lane_committed_is_found_at_the_first_use(
        lanes: tuple[EventsByContact, _Lane, _Lane]) -> None:
    """The main lane's transaction read something (its snapshot is fixed) before the side lane
    committed twice; its first use of the copy must not count those commits."""
    memory, main, side = lanes
    main.begin()
    for n in range(2):
        side.do(lambda s, n=n: _insert(s, [(f"s{n}", "c6", "page_view", "/pricing")]))  # autocommit
    assert main.sees(memory) and main.do(lambda s: memory.rows(["c6"]).num_rows) == main.do(
        lambda s: len(_table(s, ["c6"])))
    main.do(lambda s: _insert(s, [("m1", "c6", "page_view", None)]))
    assert main.sees(memory)  # its snapshot, still, and its own row
    main.end()
    main.begin()
    assert main.sees(memory) and not memory.broken
    main.end()


def test_a_lanes_rollback_drops_its_rows_only(lanes: tuple[EventsByContact, _Lane, _Lane]) -> None:
    memory, main, side = lanes
    before = len(_table(side.store, ["c5"]))
    for undone in (side, main):
        kept = main if undone is side else side
        kept.begin()
        undone.begin()
        kept.do(lambda s, k=kept: _insert(s, [(f"k-{id(k)}", "c5", "page_view", "/pricing")]))
        undone.do(lambda s, u=undone: _insert(s, [(f"u-{id(u)}", "c5", "page_view", "/pricing")]))
        undone.end(commit=False)
        assert kept.sees(memory)
        kept.end()
        for lane in (main, side):
            lane.begin()
            assert lane.sees(memory)
            lane.end()
    assert main.do(lambda s: len(_table(s, ["c5"]))) == before + 2  # the kept lane's row of each round
    assert not memory.broken


def test_a_commit_the_copy_is_not_told_of_yet_is_waited_for(lanes: tuple[EventsByContact, _Lane, _Lane]) -> None:
    """Between the side lane's COMMIT and its callbacks, the main lane's snapshot shows rows the
    copy has not followed yet: it waits for them instead of taking them for a foreign writer."""
    memory, main, side = lanes
    gate = threading.Event()
    side.begin()
    side.do(lambda s: s.on_finish(lambda committed: gate.wait(10)))  # runs before the copy's callback
    side.do(lambda s: _insert(s, [("s1", "c5", "page_view", "/pricing")]))
    ending = side.later(lambda s: side._open.__exit__(None, None, None))  # type: ignore[union-attr]
    for _ in range(1000):  # the COMMIT is done once another connection sees the row
        if main.do(lambda s: s.con.execute("SELECT count(*) FROM events WHERE event_id = 's1'").fetchone()) == (1,):
            break
        time.sleep(0.01)
    assert not gate.is_set() and memory.rows_held == 6000  # committed, not followed yet
    threading.Timer(0.3, gate.set).start()
    main.begin()
    assert main.sees(memory) and not memory.broken
    main.end()
    assert ending.get(timeout=10)[0]


def test_a_merge_past_a_snapshot_sends_that_transaction_to_the_table(
        lanes: tuple[EventsByContact, _Lane, _Lane], monkeypatch: pytest.MonkeyPatch) -> None:
    memory, main, side = lanes
    monkeypatch.setattr(events_by_contact, "MERGE_AT", 1)
    main.begin()
    assert main.sees(memory)
    side.do(lambda s: _insert(s, [("s1", "c5", "page_view", "/pricing")]))  # committed, merge started
    memory._take_merged(None)
    assert memory._merging is None and memory._tail_rows == 0
    assert not main.do(lambda s: memory.usable(s)) and not memory.broken  # the table, for this transaction
    assert not main.do(lambda s: memory.copy_into(s, "_t", ["c5"], ["contact_id", "type"]))
    main.end()
    main.begin()
    assert main.sees(memory)
    main.end()
