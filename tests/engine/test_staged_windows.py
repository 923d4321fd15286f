"""``engine.staged`` at its edges: writes between the run's start and a model's snapshot, a baseline
run cut short, and a part written twice. (The main behaviour is in ``test_staged.py``.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from tests.workflows.helpers import AS_OF, BASE_MODEL, MakeWs, add_event, fired, hook, set_props

import leadscore
from leadscore import scoring
from leadscore.engine.run import compiled_sql, model_of
from leadscore.scoring import score_all, score_all_staged, score_contacts
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

T = TypeVar("T")
LATER = AS_OF + timedelta(days=40)
WORKFLOWS = "workflows:\n" + hook("to warm", "{enters_tier: warm}") + hook("to hot", "{enters_tier: hot}")


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "FIRST_PART", 1)
    monkeypatch.setattr(scoring, "MIN_PART", 1)
    monkeypatch.setattr(scoring, "MAX_PART", 1)


def _writer(store: Store, after: Callable[[Store], None] | None = None,
            crash_at: int | None = None) -> Callable[[Callable[[Store], T]], T]:
    """A ``write`` for score_all_staged: each call its own transaction; ``after`` runs once it
    committed, and call number ``crash_at`` is a kill (nothing of it is written)."""
    calls = [0]

    def write(fn: Callable[[Store], T]) -> T:
        if crash_at is not None and calls[0] == crash_at:
            raise KeyboardInterrupt("killed")
        calls[0] += 1
        with store.transaction():
            out = fn(store)
        if after is not None:
            after(store)
        return out

    return write


def test_a_realtime_write_before_a_later_models_snapshot_is_not_overwritten(make_ws: MakeWs) -> None:
    """Model `t` is staged and written, then an event for k3 and a new contact k9 are rescored in
    real time, then model `u` takes its snapshot: the run (as of an earlier instant) must neither
    write its older score over k3's nor drop k9's (created after the run's instant)."""
    ws = make_ws("")
    (ws.models_dir / "u.yml").write_text(BASE_MODEL.replace("name: t", "name: u"))
    leadscore.publish(ws.models_dir / "u.yml", workspace=ws)
    newer = LATER + timedelta(minutes=5)
    done = [False]

    def realtime(store: Store) -> None:
        finished_t = store.con.execute("SELECT count(*) FROM score_runs WHERE model = 't' AND scope = 'all' "
                                       "AND as_of = ?", [LATER]).fetchone()
        if not done[0] and finished_t == (1,):  # after model t's run, before model u's snapshot
            done[0] = True
            with store.transaction():
                add_event(store, "k3", at=str(newer))
                store.con.execute("INSERT INTO contacts (contact_id, company_size, created_at) VALUES ('k9', 500, ?)",
                                  [newer])
                score_contacts(store, ["k3", "k9"], as_of=newer)

    with ws.open_store() as store:
        score_all(store, as_of=LATER - timedelta(days=1))
        reader = store.cursor()  # `u`'s snapshot is taken when its turn comes, after `t` is written
        score_all_staged(reader, _writer(store, realtime), as_of=LATER)
        reader.close()
        assert done[0]
        rows = dict(((m, c), (s, a)) for m, c, s, a in store.con.execute(
            "SELECT model, contact_id, score, as_of FROM scores WHERE contact_id IN ('k3', 'k9')").fetchall())
        batch = {c: s for c, s, *_ in store.con.execute(
            compiled_sql(store, model_of(store.get_version("u")), newer)).fetchall()}
    assert rows[("u", "k3")] == (batch["k3"], newer) == (25.0, newer)
    assert rows[("u", "k9")] == (batch["k9"], newer) == (20.0, newer)
    assert rows[("t", "k9")] == (20.0, newer)


def test_a_run_as_of_now_takes_each_models_instant_inside_its_snapshot(make_ws: MakeWs) -> None:
    """``as_of=None``: each model's scores are as of its own snapshot, not older than any write
    the snapshot holds (the scheduler's runs)."""
    ws = make_ws("")
    (ws.models_dir / "u.yml").write_text(BASE_MODEL.replace("name: t", "name: u"))
    leadscore.publish(ws.models_dir / "u.yml", workspace=ws)
    with ws.open_store() as store:
        before = utcnow()
        reader = store.cursor()
        runs = score_all_staged(reader, _writer(store), as_of=None)
        reader.close()
        as_ofs = {r.model: r.as_of for r in runs}
        stored = dict(store.con.execute("SELECT model, max(as_of) FROM scores GROUP BY model").fetchall())
    assert before <= as_ofs["t"] <= as_ofs["u"] <= utcnow()
    assert stored == as_ofs


def test_a_first_staged_run_killed_between_parts_fires_nothing_when_resumed(make_ws: MakeWs,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer's case: the model had no scores (a baseline run); the run is killed after its
    first part; the next run must still be a baseline for the contacts not reached yet."""
    ws = make_ws(WORKFLOWS)
    _small_parts(monkeypatch)
    with ws.open_store() as store:
        store.con.execute("DELETE FROM scores")  # never scored: the next run is the model's baseline
        for k in ("k1", "k2", "k3"):
            set_props(store, k, company_size=500)  # all warm at their first score
        reader = store.cursor()
        with pytest.raises(KeyboardInterrupt):
            score_all_staged(reader, _writer(store, crash_at=1), as_of=LATER)  # killed after part 1
        assert store.con.execute("SELECT count(*) FROM scores").fetchone() == (1,)
        score_all_staged(reader, _writer(store), as_of=LATER + timedelta(minutes=1))  # the next run
        reader.close()
        assert fired(store) == []
        assert store.con.execute("SELECT count(*) FROM scores").fetchone() == (3,)
        # finished: the run after that is an ordinary one again, and fires crossings
        set_props(store, "k1", company_size=500, job_title="CEO")
        add_event(store, "k1")
        reader = store.cursor()
        score_all_staged(reader, _writer(store), as_of=LATER + timedelta(minutes=2))
        reader.close()
        assert fired(store) == ["k1"]


def test_a_whole_base_run_after_a_killed_baseline_fires_nothing(make_ws: MakeWs,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws(WORKFLOWS)
    _small_parts(monkeypatch)
    with ws.open_store() as store:
        store.con.execute("DELETE FROM scores")
        for k in ("k1", "k2", "k3"):
            set_props(store, k, company_size=500)
        reader = store.cursor()
        with pytest.raises(KeyboardInterrupt):
            score_all_staged(reader, _writer(store, crash_at=1), as_of=LATER)
        reader.close()
        score_all(store, as_of=LATER)  # `leadscore score` after the server stopped
        assert fired(store) == []
        assert store.con.execute("SELECT count(*) FROM meta WHERE key LIKE 'staged_baseline:%'").fetchone() == (0,)


def test_a_part_written_again_after_a_rollback_counts_once(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's writer reruns a job whose commit conflicted: the run's figures count it once."""
    ws = make_ws(WORKFLOWS)
    _small_parts(monkeypatch)
    with ws.open_store() as store:
        for k in ("k1", "k2", "k3"):
            set_props(store, k, company_size=500)  # each crosses into warm
        failed = [False]

        def write(fn: Callable[[Store], T]) -> T:
            if not failed[0]:  # the first part's transaction is rolled back once, then run again
                failed[0] = True
                with pytest.raises(RuntimeError), store.transaction():
                    fn(store)
                    raise RuntimeError("conflict")
            with store.transaction():
                return fn(store)

        reader = store.cursor()
        runs = score_all_staged(reader, write, as_of=LATER)
        reader.close()
        [run] = runs
        assert (run.contacts, run.changed, run.crossings) == (3, 3, 3)
        assert runs.workflows.fired == {"t/to warm": 3}
        assert store.con.execute("SELECT contacts, changed, crossings FROM score_runs WHERE scope = 'all' "
                                 "AND as_of = ?", [LATER]).fetchall() == [(3, 3, 3)]
