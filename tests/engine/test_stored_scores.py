"""``engine.stored_scores``: the real-time path reads a few contacts' scores once per transaction
(every model), replaces them by row id, and answers with the rows the table holds after commit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.workflows.helpers import AS_OF, BASE_MODEL, MakeWs, set_props
from tests.workflows.test_settle import STAGE_RULE, STAGED_MODEL, TO_SALES, _republish

from leadscore.engine import run as run_module
from leadscore.engine.stored_scores import SCORE_COLUMNS, StoredScores
from leadscore.scoring import score_all, score_contacts
from leadscore.storage.lookup_index import ensure_lookup_indexes
from leadscore.storage.store import Store

#: a second model reading the property the first one's workflow sets: settling rescores it
READER = BASE_MODEL.replace("name: t", "name: a_reader").replace("  engagement:", STAGE_RULE + "  engagement:")


def _table(store: Store, cid: str) -> list[tuple[Any, ...]]:
    return store.con.execute(f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores WHERE contact_id = ? ORDER BY model",
                             [cid]).fetchall()


class _Scans:
    """Counts the scans of ``scores`` for row ids that ``engine.run`` makes when it has no view."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = run_module._previous_rows

        def spy(store: Store, level: Any, model: str, ids: list[str], stored: StoredScores | None = None) -> Any:
            if stored is None or stored.rowids(model, ids) is None:
                self.calls += 1
            return real(store, level, model, ids, stored)

        monkeypatch.setattr(run_module, "_previous_rows", spy)


def test_the_rows_kept_for_the_response_are_the_table_after_commit(make_ws: MakeWs,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two models, a workflow's `set` settled in the same transaction (a second run of both models
    for k1), a contact never scored (k4, created after the instant): the view the response is built
    from equals a read of ``scores`` after commit, row by row, timestamps included."""
    ws = make_ws(TO_SALES)
    _republish(ws, "t", STAGED_MODEL + TO_SALES)
    _republish(ws, "a_reader", READER)
    with ws.open_store() as store:
        score_all(store, as_of=AS_OF)
        ensure_lookup_indexes(store)
        store.con.execute("INSERT INTO contacts (contact_id, company_size, created_at) VALUES ('k4', 300, ?)",
                          [AS_OF + timedelta(days=1)])
        set_props(store, "k1", company_size=500)  # enters warm in `t`: the workflow sets the stage
        scans = _Scans(monkeypatch)
        ids = ["k1", "k2", "k4"]
        with store.transaction():
            runs = score_contacts(store, ids, as_of=AS_OF)
        assert runs.workflows.resettled == 1
        assert scans.calls == 2  # only the settling's second runs, of k1, whose rows moved
        view = runs.stored
        assert view is not None
        for cid in ids:
            assert view.rows_of(cid) == _table(store, cid), cid
        assert [r[0] for r in _table(store, "k1")] == ["a_reader", "t"]
        assert _table(store, "k4") == []
        assert view.rows_of("k3") is None  # not in the view: the caller reads the table
        assert {r[0]: r[2] for r in _table(store, "k1")} == {"a_reader": 50.0, "t": 50.0}  # both read the stage



def test_the_view_gives_each_models_row_ids(make_ws: MakeWs) -> None:
    ws = make_ws("")
    with ws.open_store() as store:
        view = StoredScores.read(store, ["k1", "nobody"])
        assert view.rows_of("k1") == _table(store, "k1") and view.rows_of("nobody") == []
        [rowid] = view.rowids("t", ["k1"]) or []
        assert store.con.execute("SELECT contact_id FROM scores WHERE rowid = ?", [rowid]).fetchall() == [("k1",)]
        assert view.rowids("t", ["k1", "k2"]) is None  # k2 was not read: the caller scans
        view.replaced("t", ["k1"], [])
        assert view.rowids("t", ["k1"]) is None and view.rows_of("k1") == []  # rewritten: ids unknown
