"""Each trigger fires on a crossing, never on a level; first scores, baselines, `if:` and cooldowns."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.workflows.helpers import MakeWs, add_event, fired, hook, remove_events, rescore, set_props

from leadscore.scoring import score_all
from leadscore.workflows import triggers


def test_enters_tier_fires_on_the_way_in_not_while_staying(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("warm-in", "{enters_tier: warm}"))
    with ws.open_store() as store:
        assert fired(store) == []  # the baseline run fired nothing
        set_props(store, "k1", company_size=500)  # 0 -> 20: cold -> warm
        rescore(store, ws, "k1", "k2")
        assert fired(store) == ["k1"]
        set_props(store, "k1", job_title="CEO")  # 20 -> 25: still warm, a level, not a crossing
        rescore(store, ws, "k1")
        assert fired(store) == ["k1"]
        add_event(store, "k1")  # warm -> hot
        rescore(store, ws, "k1")
        remove_events(store, "k1")  # hot -> warm again: a second entry fires again
        rescore(store, ws, "k1")
        assert fired(store) == ["k1", "k1"]


def test_leaves_tier(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("warm-out", "{leaves_tier: warm}"))
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        assert fired(store) == []  # entering warm is not leaving it
        add_event(store, "k1")
        rescore(store, ws, "k1")
        assert fired(store) == ["k1"]  # warm -> hot
        rescore(store, ws, "k1")
        assert fired(store) == ["k1"]


def test_score_above_and_below_are_crossings(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("up", "{score_above: 22}") + hook("down", "{score_below: 22}"))
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)  # 0 -> 20: below 22 both times
        rescore(store, ws, "k1")
        assert fired(store) == []
        set_props(store, "k1", job_title="CEO")  # 20 -> 25: up through 22
        rescore(store, ws, "k1")
        add_event(store, "k1")  # 25 -> 50: above, and already was
        rescore(store, ws, "k1")
        assert (fired(store, "up"), fired(store, "down")) == (["k1"], [])
        remove_events(store, "k1")
        set_props(store, "k1", job_title=None)  # 50 -> 20: down through 22
        rescore(store, ws, "k1")
        rescore(store, ws, "k1")  # staying below fires nothing
        assert (fired(store, "up"), fired(store, "down")) == (["k1"], ["k1"])


def test_score_changed_by_either_way(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("jump", "{score_changed_by: 20}"))
    with ws.open_store() as store:
        set_props(store, "k1", job_title="CEO")  # 0 -> 5
        rescore(store, ws, "k1")
        assert fired(store) == []
        set_props(store, "k1", company_size=500)  # 5 -> 25: exactly 20
        rescore(store, ws, "k1")
        assert fired(store) == ["k1"]
        set_props(store, "k1", company_size=10, job_title=None)  # 25 -> 0: down by 25
        rescore(store, ws, "k1")
        assert fired(store) == ["k1", "k1"]


def test_first_score_enters_and_goes_above_but_never_leaves_or_drops(make_ws: MakeWs) -> None:
    workflows = "workflows:\n" + hook("hot-in", "{enters_tier: hot}") + hook("above", "{score_above: 30}") \
        + hook("below", "{score_below: 100}") + hook("cold-out", "{leaves_tier: cold}") \
        + hook("moved", "{score_changed_by: 1}")
    ws = make_ws(workflows)
    with ws.open_store() as store:
        store.con.execute("INSERT INTO contacts (contact_id, company_size, created_at) "
                          "VALUES ('new', 500, '2025-05-01')")
        add_event(store, "new")
        rescore(store, ws, "new")  # a new lead arrives hot: first score 45
        got = store.con.execute("SELECT workflow FROM outbox ORDER BY workflow").fetchall()
        assert [r[0] for r in got] == ["above", "hot-in"]


def test_baseline_whole_base_run_fires_nothing_later_runs_do(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("warm-in", "{enters_tier: warm}"))
    with ws.open_store() as store:
        set_props(store, "k2", company_size=200)
        set_props(store, "k3", company_size=300)
        runs = score_all(store, as_of=datetime(2025, 6, 1))
        assert runs[0].crossings == 2
        assert sorted(fired(store)) == ["k2", "k3"]


@pytest.mark.parametrize("restrict_limit", [5000, 0], ids=["fired-contacts-only", "whole-base"])
def test_if_condition_on_properties_and_events(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch,
                                               restrict_limit: int) -> None:
    monkeypatch.setattr(triggers, "RESTRICT_LIMIT", restrict_limit)
    saas = "    if: {property: industry, equals: SaaS}\n"
    engaged = "    if: {all: [{property: industry, equals: SaaS}, {event: email_open, at_least: 2}]}\n"
    ws = make_ws("workflows:\n" + hook("saas", "{enters_tier: warm}", saas)
                 + hook("engaged", "{enters_tier: warm}", engaged))
    with ws.open_store() as store:
        for cid in ("k1", "k2", "k3"):
            set_props(store, cid, company_size=500)
        add_event(store, "k3", "email_open")
        add_event(store, "k3", "email_open", "2025-05-31")
        rescore(store, ws, "k1", "k2", "k3")
        assert sorted(fired(store, "saas")) == ["k1", "k3"]  # k2 is Retail
        assert fired(store, "engaged") == ["k3"]


def test_cooldown_holds_back_a_contact_crossing_back_and_forth(make_ws: MakeWs) -> None:
    ws = make_ws("workflows:\n" + hook("warm-in", "{enters_tier: warm}", "    cooldown_hours: 24\n"))
    with ws.open_store() as store:
        for _ in range(3):  # in and out of warm three times
            set_props(store, "k1", company_size=500)
            rescore(store, ws, "k1")
            set_props(store, "k1", company_size=10)
            rescore(store, ws, "k1")
        assert fired(store) == ["k1"]
        # a day later (moved back in time rather than waiting) the next entry fires again
        store.con.execute("UPDATE workflow_state SET last_fired_at = last_fired_at - INTERVAL 25 HOUR")
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        assert fired(store) == ["k1", "k1"]
