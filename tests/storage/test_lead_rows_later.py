"""The leads list's rows written after the write (``storage.lead_rows_later``): a run under
``deferring`` only marks its contacts, in its own transaction, and the refresh makes the table equal
to its recomputation again, by key and joined, for rows of several as-ofs, a contact the model no
longer scores, and marks that a rollback undid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.storage.test_lead_rows import _rows, _some, assert_fresh, template, ws  # noqa: F401 - fixtures

from leadscore.scoring import score_contacts
from leadscore.storage import lead_rows, lead_rows_later
from leadscore.storage.lead_rows_later import MARKED, Marks, deferring
from leadscore.workspace import Workspace

Ws = tuple[Workspace, Any]


def _marked(store: Any) -> list[str]:
    return sorted(str(r[0]) for r in store.con.execute(f"SELECT DISTINCT contact_id FROM {MARKED}").fetchall())


def _stale(store: Any) -> bool:
    return _rows(store, f"SELECT * FROM {lead_rows.TABLE}") != _rows(store, lead_rows.expected_sql(store.con))



def test_marked_runs_leave_the_rows_to_the_refresh_which_makes_them_right(
        ws: Ws) -> None:  # noqa: F811 - the fixture
    workspace, end = ws
    marks = Marks(every=1.0)
    with workspace.open_store() as store:
        ids = _some(store, 6)
        before = assert_fresh(store)
        with store.transaction() as con:
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, ?)",
                        ["e_later", ids[0], "demo_request", end + timedelta(days=2)])
        with deferring(marks):
            score_contacts(store, ids[:4], as_of=end + timedelta(days=3))
            score_contacts(store, ids[3:], as_of=end - timedelta(days=12))  # another as-of, out of order
        assert _rows(store, f"SELECT * FROM {lead_rows.TABLE}") == before  # not written in the runs
        assert _stale(store) and _marked(store) == sorted(ids)
        assert marks.first is not None and marks.due(marks.last + 2 * lead_rows_later.IDLE)
        with store.transaction():
            assert marks.refresh(store) == len(ids)
        rows = {(r[0], r[1]): r for r in assert_fresh(store)}
        assert _marked(store) == [] and marks.first is None and marks.refreshed == len(ids)
        models = {r[0] for r in rows.values()}
        assert {rows[(m, ids[0])][4] for m in models} == {end + timedelta(days=3)}
        assert rows[("b2b", ids[3])][4] == end - timedelta(days=12)  # the later run, the earlier as-of



def test_a_refresh_drops_the_rows_of_contacts_no_longer_scored(
        ws: Ws) -> None:  # noqa: F811 - the fixture
    workspace, _ = ws
    with workspace.open_store() as store:
        ids = _some(store, 40)
        middle = store.con.execute("SELECT median(created_at) FROM contacts").fetchone()[0]
        with deferring(Marks(every=1.0)):
            score_contacts(store, ids, as_of=middle)  # some did not exist yet then: their scores go
        assert _stale(store)
        with store.transaction() as con:
            lead_rows_later.refresh(con)
        rows = assert_fresh(store)
        scored = store.con.execute("SELECT count(*) FROM scores WHERE model = 'b2b'").fetchone()[0]
        assert len([r for r in rows if r[0] == "b2b"]) == scored


def test_marks_of_a_rolled_back_write_vanish_and_a_failed_refresh_keeps_them(ws: Ws) -> None:  # noqa: F811
    workspace, end = ws
    marks = Marks(every=1.0)
    with workspace.open_store() as store:
        ids = _some(store, 3)
        with pytest.raises(RuntimeError), store.transaction(), deferring(marks):
            score_contacts(store, ids, as_of=end + timedelta(days=1))
            raise RuntimeError("the write failed")
        assert _marked(store) == [] and not _stale(store)
        with deferring(marks):
            score_contacts(store, ids, as_of=end + timedelta(days=1))
        first = marks.first
        with pytest.raises(RuntimeError), store.transaction():
            marks.refresh(store)
            raise RuntimeError("the refresh failed")
        assert marks.first == first and _marked(store) == ids and _stale(store)
        with store.transaction():
            marks.refresh(store)
        assert_fresh(store)


def test_marks_are_due_when_writes_pause_or_the_oldest_waited_long_enough() -> None:
    marks = Marks(every=1.0)
    assert not marks.due(100.0)
    marks.first = marks.last = 10.0
    assert not marks.due(10.0 + lead_rows_later.IDLE / 2)
    assert marks.due(10.0 + 2 * lead_rows_later.IDLE)  # no write since
    marks.last = 10.9  # writes keep coming
    assert not marks.due(10.95) and marks.due(11.01)


@pytest.mark.parametrize("many", [1, 65])
def test_a_refresh_rewrites_the_marked_contacts_rows_only(ws: Ws, many: int) -> None:  # noqa: F811
    """The refresh's rows equal their recomputation, and an unmarked contact's row (here made stale
    on purpose) is left as it is: the scope reaches every table read, predictions included."""
    workspace, end = ws
    with workspace.open_store() as store:
        ids = _some(store, many)
        others = _some(store, 3, f"contact_id > '{ids[-1]}'")
        with store.transaction() as con:  # another contact's stale row must stay as it is: not marked
            con.execute(f"UPDATE {lead_rows.TABLE} SET owner = 'stale' WHERE contact_id = ?", [others[0]])
        with deferring(Marks(every=1.0)):
            score_contacts(store, ids, as_of=end + timedelta(days=2))
        with store.transaction() as con:
            assert lead_rows_later.refresh(con) == many
        got = _rows(store, f"SELECT * FROM {lead_rows.TABLE} WHERE contact_id <> '{others[0]}'")
        want = _rows(store, f"SELECT * FROM ({lead_rows.expected_sql(store.con)}) WHERE contact_id <> '{others[0]}'")
        assert got == want and _marked(store) == []
        assert {r[0] for r in store.con.execute(
            f"SELECT owner FROM {lead_rows.TABLE} WHERE contact_id = ?", [others[0]]).fetchall()} == {"stale"}


def test_idle_refreshes_keep_a_gap_of_a_few_times_their_own_length() -> None:
    """A refresh holds the whole writer: events arriving just over ``IDLE`` apart must not each be
    followed by one (the review measured single p50 65 -> 246 ms with a 0.2 s refresh after each)."""
    marks = Marks(every=5.0)
    marks.cost, marks.done = 0.2, 20.0  # the last refresh took 0.2 s and ended at 20.0
    marks.first = marks.last = 20.15
    gap = lead_rows_later.GAP * 0.2
    assert not marks.due(20.15 + 2 * lead_rows_later.IDLE)  # idle, but the writer just refreshed
    assert marks.due(20.0 + gap + 0.01)
    marks.first = 15.5  # the oldest mark waited ``every``: due whatever the gap
    marks.done = 20.5
    assert marks.due(20.55)
