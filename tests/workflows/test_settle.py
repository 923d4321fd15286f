"""A ``set`` action changes properties that rules read: the contacts it changed are scored again.

Each test compares the stored score with a fresh computation (``explain`` recomputes from the
contact and its events), so a stale score left by a ``set`` would fail it.
"""

from __future__ import annotations

import logging

import pytest
from tests.workflows.helpers import AS_OF, BASE_MODEL, MakeWs, add_event, rescore, set_props

import leadscore
from leadscore.scoring import SETTLE_ROUNDS, score_all
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

# `t` with one more rule: 30 points once a workflow has made the contact a sales-qualified lead
STAGE_RULE = "      - {name: stage, when: {property: lifecycle_stage, equals: salesqualifiedlead}, points: 30}\n"
STAGED_MODEL = BASE_MODEL.replace("  engagement:", STAGE_RULE + "  engagement:")
TO_SALES = """workflows:
  - name: to sales
    on: {enters_tier: warm}
    do:
      - set: {lifecycle_stage: salesqualifiedlead}
"""


def _republish(ws: Workspace, name: str, text: str) -> None:
    path = ws.models_dir / f"{name}.yml"
    path.write_text(text)
    leadscore.publish(path, workspace=ws)


def _stored(store: Store, model: str, cid: str) -> tuple[float, str]:
    row = store.con.execute("SELECT score, tier FROM scores WHERE model = ? AND contact_id = ?",
                            [model, cid]).fetchone()
    assert row is not None
    return float(row[0]), str(row[1])


def _fresh(ws: Workspace, model: str, cid: str) -> float:
    return leadscore.explain(cid, workspace=ws, model=model, as_of=AS_OF).total


def test_real_time_rescore_sees_the_property_its_workflow_set(make_ws: MakeWs) -> None:
    ws = make_ws(TO_SALES)
    _republish(ws, "t", STAGED_MODEL + TO_SALES)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)  # 20 points: enters warm, the workflow sets the stage
        rescore(store, ws, "k1")
        assert _stored(store, "t", "k1") == (50.0, "hot")
        history = store.con.execute(
            "SELECT score, tier, prev_tier FROM score_history WHERE contact_id = 'k1' AND as_of = ? "
            "AND prev_score IS NOT NULL ORDER BY computed_at, score", [AS_OF]).fetchall()
        assert history == [(20.0, "warm", "cold"), (50.0, "hot", "warm")]  # both steps are on record
    assert _fresh(ws, "t", "k1") == 50.0


def test_whole_base_run_settles_every_model_and_its_tier_counts(make_ws: MakeWs) -> None:
    ws = make_ws(TO_SALES)
    # a second model reads the property too; its name sorts first, so it runs before `t` sets it
    reader = BASE_MODEL.replace("name: t", "name: a_reader").replace("  engagement:", STAGE_RULE + "  engagement:")
    _republish(ws, "a_reader", reader)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        set_props(store, "k2", company_size=500)
        runs = score_all(store, as_of=AS_OF)
        stats = runs.workflows
        assert stats.properties_set == 2 and stats.resettled == 2 and stats.unsettled == 0
        for cid in ("k1", "k2"):
            assert _stored(store, "a_reader", cid) == (50.0, "hot")
            assert _stored(store, "t", cid) == (20.0, "warm")  # `t` has no stage rule
        by_model = {run.model: run for run in runs if run.scope == "all"}
        assert by_model["a_reader"].tier_counts == {"cold": 1, "warm": 0, "hot": 2}
        assert by_model["t"].tier_counts == {"cold": 1, "warm": 2, "hot": 0}
    for cid in ("k1", "k2"):
        assert _fresh(ws, "a_reader", cid) == 50.0


def test_workflows_that_undo_each_other_stop_after_the_last_round(make_ws: MakeWs,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    flip = STAGED_MODEL.replace("points: 30}", "points: -30}") + """workflows:
  - name: demote
    on: {enters_tier: hot}
    do:
      - set: {lifecycle_stage: salesqualifiedlead}
  - name: promote
    on: {leaves_tier: hot}
    do:
      - set: {lifecycle_stage: lead}
"""
    ws = make_ws("")
    _republish(ws, "t", flip)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        add_event(store, "k1")  # 45 points: hot, demoted to warm, promoted back to hot, ...
        with caplog.at_level(logging.WARNING, logger="leadscore.scoring"):
            stats = score_all(store, as_of=AS_OF).workflows
        assert stats.resettled == SETTLE_ROUNDS and stats.unsettled == 1
        assert "undo each other" in caplog.text
        rounds = store.con.execute("SELECT count(*) FROM property_changes WHERE contact_id = 'k1'").fetchone()
        assert rounds == (SETTLE_ROUNDS + 1,)
        score, _ = _stored(store, "t", "k1")
    # the loop stopped with a stored score that still matches the contact as it stands
    assert score == _fresh(ws, "t", "k1")


def test_a_set_that_changes_nothing_rescores_nobody(make_ws: MakeWs) -> None:
    ws = make_ws(TO_SALES)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500, lifecycle_stage="salesqualifiedlead")
        stats = score_all(store, as_of=AS_OF).workflows
        assert stats.properties_set == 0 and stats.resettled == 0
