"""``engine.staged`` through ``scoring.score_all_staged``: a whole-base run computed beside the
writes and written in parts leaves what ``score_all`` leaves, keeps scores written since its
snapshot, and fires workflows as a whole-base run does."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.workflows.helpers import AS_OF, MakeWs, add_event, fired, hook, set_props

from leadscore import scoring
from leadscore.engine.run import compiled_sql, last_as_of, model_of
from leadscore.scoring import score_all, score_all_staged, score_contacts
from leadscore.storage.lookup_index import LOOKUP_INDEXES, ensure_lookup_indexes, existing_lookup_indexes
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

T = TypeVar("T")
LATER = AS_OF + timedelta(days=40)
WORKFLOWS = "workflows:\n" + hook("to warm", "{enters_tier: warm}") + hook("to hot", "{enters_tier: hot}")


def _writer(store: Store, before: Callable[[Store, int], None] | None = None) -> Callable[[Callable[[Store], T]], T]:
    """A ``write`` for score_all_staged: each call in its own transaction, ``before`` run first."""
    calls = [0]

    def write(fn: Callable[[Store], T]) -> T:
        if before is not None:
            before(store, calls[0])
        calls[0] += 1
        with store.transaction():
            return fn(store)

    return write


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "FIRST_PART", 1)
    monkeypatch.setattr(scoring, "MIN_PART", 1)
    monkeypatch.setattr(scoring, "MAX_PART", 2)


def _state(store: Store) -> dict[str, Any]:
    q = store.con.execute
    return {
        "scores": q("SELECT model, contact_id, score, tier, groups, as_of FROM scores ORDER BY ALL").fetchall(),
        "history": q("SELECT model, contact_id, score, tier, prev_score, prev_tier, as_of FROM score_history "
                     "ORDER BY ALL").fetchall(),
        "outbox": q("SELECT workflow, contact_id FROM outbox ORDER BY ALL").fetchall(),
        "runs": q("SELECT model, scope, as_of, contacts, changed, crossings FROM score_runs WHERE scope = 'all' "
                  "ORDER BY ALL").fetchall(),
    }


def _copy(ws: Workspace, to: Path) -> Path:
    shutil.copyfile(ws.store_path, to)
    return to


def test_a_staged_run_leaves_what_score_all_leaves(make_ws: MakeWs, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws(WORKFLOWS)
    with ws.open_store() as store:  # k1 becomes hot, k2 warm, k3 stays; k4 is new (no score yet)
        set_props(store, "k1", company_size=500, job_title="CEO")
        add_event(store, "k1")
        set_props(store, "k2", company_size=200)
        store.con.execute("INSERT INTO contacts (contact_id, company_size, created_at) "
                          "VALUES ('k4', 300, '2025-02-01')")
    a, b = _copy(ws, tmp_path / "a.duckdb"), _copy(ws, tmp_path / "b.duckdb")
    with Store.open(a) as store:
        score_all(store, as_of=LATER)
        want = _state(store)
    _small_parts(monkeypatch)
    with Store.open(b) as store:
        ensure_lookup_indexes(store)  # as the server has them
        reader = store.cursor()
        runs = score_all_staged(reader, _writer(store), as_of=LATER)
        reader.close()
        got = _state(store)
        assert last_as_of(store, "t") == LATER
        assert existing_lookup_indexes(store.con) == set(LOOKUP_INDEXES)
    assert got == want
    assert [(r.model, r.scope, r.contacts, r.tier_counts) for r in runs] == [
        ("t", "all", 4, {"cold": 1, "warm": 2, "hot": 1})]
    assert runs.workflows.fired == {"t/to warm": 2, "t/to hot": 1}
    assert sorted(c for _, c in want["outbox"]) == ["k1", "k2", "k4"]


def test_a_contact_rescored_after_the_snapshot_keeps_its_newer_score(make_ws: MakeWs,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws(WORKFLOWS)
    newer = LATER + timedelta(minutes=5)

    def realtime_write(store: Store, call: int) -> None:
        if call == 1:  # between two parts: an event for k3, rescored in real time
            with store.transaction():
                add_event(store, "k3")
                score_contacts(store, ["k3"], as_of=newer)

    _small_parts(monkeypatch)
    with ws.open_store() as store:
        reader = store.cursor()
        score_all_staged(reader, _writer(store, realtime_write), as_of=LATER)
        reader.close()
        rows = store.con.execute("SELECT contact_id, score, as_of FROM scores ORDER BY 1").fetchall()
        history = store.con.execute(
            "SELECT as_of FROM score_history WHERE contact_id = 'k3' ORDER BY computed_at").fetchall()
        model = model_of(store.get_version("t"))
        [(_, batch, *_)] = store.con.execute(compiled_sql(store, model, newer, contact_id="k3")).fetchall()
        outbox = fired(store)
    assert rows == [("k1", 0.0, LATER), ("k2", 0.0, LATER), ("k3", 25.0, newer)]
    assert history[-1][0] == newer and batch == 25.0  # the staged row for k3 was not written after it
    assert outbox == ["k3"]  # k3 entered `warm` once: in the real-time run, not again in the staged one


def test_a_first_staged_run_fires_nothing_and_a_later_one_fires_crossings(make_ws: MakeWs,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws(WORKFLOWS)
    _small_parts(monkeypatch)
    with ws.open_store() as store:
        store.con.execute("DELETE FROM scores")  # as if the model had never been scored
        set_props(store, "k1", company_size=500)
        reader = store.cursor()
        first = score_all_staged(reader, _writer(store), as_of=LATER)
        assert first.workflows.fired == {} and fired(store) == []
        set_props(store, "k2", company_size=500)
        add_event(store, "k2")
        second = score_all_staged(reader, _writer(store), as_of=LATER + timedelta(days=1))
        reader.close()
        assert second.workflows.fired == {"t/to hot": 1} and fired(store) == ["k2"]


def test_contacts_not_scored_as_of_the_run_lose_their_score_as_in_score_all(
        make_ws: MakeWs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws("")
    early = datetime(2024, 6, 1)  # before every contact's created_at: nobody is scored
    a, b = _copy(ws, tmp_path / "a.duckdb"), _copy(ws, tmp_path / "b.duckdb")
    with Store.open(a) as store:
        score_all(store, as_of=early)
        want = _state(store)
    _small_parts(monkeypatch)
    with Store.open(b) as store:
        reader = store.cursor()
        score_all_staged(reader, _writer(store), as_of=early)
        reader.close()
        assert _state(store) == want and want["scores"] == []


def test_a_model_whose_query_fails_is_reported_and_the_others_score(make_ws: MakeWs) -> None:
    from leadscore.engine.run import publish
    from leadscore.model.loader import parse_model

    ws = make_ws("")
    broken = ("version: 1\nname: broken\ngroups:\n  g:\n    rules:\n"
              "      - {name: r, when: {property: job_title, matches: '(?=C)CEO'}, points: 5}\n")
    with ws.open_store() as store:
        publish(store, parse_model(broken, "broken.yml"))
        reader = store.cursor()
        quarantine = scoring.Quarantine()
        runs = score_all_staged(reader, _writer(store), as_of=LATER, quarantine=quarantine)
        reader.close()
    assert [r.model for r in runs] == ["t"] and [f.model for f in runs.failures] == ["broken"]
    assert len(quarantine) == 1
