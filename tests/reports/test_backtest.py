"""Backtests on the hand-computed world (tests/reports/handdata.py has every number worked out)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.reports.handdata import CONVERTED, POPULATION, SCORES, TINY_MODEL, T

import leadscore
from leadscore.errors import LeadscoreError
from leadscore.reports.backtest import rolling_dates
from leadscore.reports.frame import score_frame
from leadscore.reports.outcomes import Outcome, parse_horizon
from leadscore.workspace import Workspace


def _model_path(ws: Workspace) -> str:
    return str(ws.models_dir / "tiny.yml")


def test_population_scores_and_outcomes_are_as_of_t(tiny_ws: Workspace) -> None:
    from leadscore.model.loader import parse_model

    with tiny_ws.open_store(read_only=True) as store:
        frame = score_frame(store, parse_model(TINY_MODEL).model, T, Outcome(timedelta(days=30)))
    assert set(frame.contact_id) == POPULATION  # g converted before T, h created after T
    assert {c for c, y in zip(frame.contact_id, frame.converted, strict=True) if y} == CONVERTED
    assert dict(zip(frame.contact_id, frame.score, strict=True)) == SCORES
    by_id = {c: i for i, c in enumerate(frame.contact_id)}
    assert frame.score[by_id["d"]] == 0.0  # d's demo request on 06-05 is after T: it must not score
    assert not frame.converted[by_id["b"]]  # b won on 07-15, after the horizon: not a conversion
    assert not frame.converted[by_id["j"]]  # j won exactly at T + 30 days: the window is half-open
    assert frame.days_to_close[by_id["a"]] == 9.0 and frame.deal_value[by_id["a"]] == 1500.0


def test_backtest_figures_by_hand(tiny_ws: Workspace) -> None:
    run = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, horizon="30d")
    r = run.result
    assert (r.contacts, r.converters, r.base_rate) == (8, 3, 3 / 8)
    assert r.auc == pytest.approx(2 / 3)
    assert r.top10.contacts == 1 and r.top10.converters == pytest.approx(0.5)
    assert r.top10.lift == pytest.approx(4 / 3) and r.top10.capture == pytest.approx(1 / 6)
    assert r.top20.converters == pytest.approx(1.0) and r.top20.capture == pytest.approx(1 / 3)
    tiers = {t.name: t for t in r.tiers}
    assert [t.name for t in r.tiers] == ["low", "mid", "high"]
    assert (tiers["high"].contacts, tiers["high"].converters) == (2, 1)
    assert (tiers["mid"].contacts, tiers["mid"].converters) == (2, 1)
    assert (tiers["low"].contacts, tiers["low"].converters, tiers["low"].rate) == (4, 1, 0.25)
    assert [tiers[t].avg_days_to_close for t in ("high", "mid", "low")] == [9.0, 20.0, 14.0]
    assert [tiers[t].avg_deal_value for t in ("high", "mid", "low")] == [1500.0, 3000.0, 500.0]
    assert r.missed == 1 and r.tiers_ordered
    assert r.horizon_observed  # the store knows deals up to 07-15, past T + 30 days


def test_a_longer_horizon_counts_the_later_deals(tiny_ws: Workspace) -> None:
    r = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, horizon="8w").result
    assert r.converters == 5  # + b (07-15) and j (07-01), both within 56 days
    assert not r.horizon_observed  # 56 days after T is past the last thing the store knows


def test_vs_counts_tier_moves_and_their_direction(tiny_ws: Workspace) -> None:
    leadscore.publish(_model_path(tiny_ws), workspace=tiny_ws)
    draft = tiny_ws.models_dir / "no_exec.yml"
    draft.write_text(TINY_MODEL.replace("points: 10", "points: 0"))
    run = leadscore.backtest(str(draft), workspace=tiny_ws, as_of=T, horizon="30d", vs="tiny")
    c = run.comparison
    assert c is not None and c.a.source == "tiny v1" and c.b.source == str(draft)
    # without exec: a 25→15 (high→mid, converted), j 25→15 (high→mid), b 10→0 (mid→low); f stays low
    m = c.moves
    assert (m.changed, m.up, m.down, m.down_converters) == (3, 0, 3, 1)
    assert m.right_way == 2 and m.right_share == pytest.approx(2 / 3)
    assert {(x["from"], x["to"]): x["contacts"] for x in m.matrix} == {("high", "mid"): 2, ("mid", "low"): 1}
    assert run.result is c.b


def test_rolling_repeats_the_backtest_at_each_date(tiny_ws: Workspace) -> None:
    run = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, horizon="30d",
                             rolling=3, step="30d")
    assert [r.as_of for r in run.rolling] == [T - timedelta(days=60), T - timedelta(days=30), T]
    assert run.rolling[-1].auc == pytest.approx(2 / 3)
    # as of 05-02 only g's deal (won 05-20) falls in the window: one converter
    assert run.rolling[1].converters == 1
    assert rolling_dates(T, 1, timedelta(days=7)) == [T]


def test_label_mode_uses_a_contact_property(tiny_ws: Workspace) -> None:
    with tiny_ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN \"Converted Flag\" VARCHAR")
        store.con.execute("UPDATE contacts SET \"Converted Flag\" = CASE contact_id "
                          "WHEN 'a' THEN 'Yes' WHEN 'b' THEN 'yes' WHEN 'c' THEN 'No' WHEN 'e' THEN '' END")
    r = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T,
                           label="Converted Flag").result
    # label known for a, b, c (e's empty text is unknown); g is in: label mode has no "before"
    assert (r.contacts, r.converters) == (3, 2)
    assert r.horizon_days is None and r.tiers[0].avg_days_to_close is None
    with pytest.raises(LeadscoreError, match="no contact property `nope`"):
        leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, label="nope")


def test_numeric_label_found_by_its_snake_case_name(tiny_ws: Workspace) -> None:
    with tiny_ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN converted BIGINT")
        store.con.execute("UPDATE contacts SET converted = CASE WHEN contact_id IN ('a', 'd') THEN 1 ELSE 0 END")
    r = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, label="Converted").result
    assert (r.contacts, r.converters) == (9, 2)  # everyone created by T (h is not)


def test_a_label_with_a_history_is_read_as_of_the_horizon_and_converted_before_t_are_out(
        tiny_ws: Workspace) -> None:
    """As won deals are: a contact whose label was already true at T had converted (out of the
    population), one whose label became true after the horizon had not converted within it."""
    from datetime import datetime

    from leadscore.storage.history import write_properties

    with tiny_ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN converted BIGINT")
        store.con.execute("UPDATE contacts SET converted = 0, updated_at = NULL")
        for cid, days in (("a", -10), ("d", 10), ("c", 60)):
            write_properties(store.con, cid, {"converted": 1}, source="crm", now=datetime(2026, 1, 1),
                             changed_at=T + timedelta(days=days))
    r = leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, horizon="30d",
                           label="Converted").result
    assert (r.contacts, r.converters) == (8, 1)  # a converted before T; c after the horizon; d within it


def test_bad_inputs_are_clear_errors(tiny_ws: Workspace) -> None:
    with pytest.raises(LeadscoreError, match="horizon"):
        parse_horizon("soon")
    with pytest.raises(LeadscoreError, match="longer than zero"):
        parse_horizon("0d")
    assert parse_horizon("2w") == timedelta(days=14) and parse_horizon(45) == timedelta(days=45)
    with pytest.raises(LeadscoreError, match="no model is published"):
        leadscore.backtest(workspace=tiny_ws, as_of=T)
    with pytest.raises(LeadscoreError, match="no published model `nope`"):
        leadscore.backtest("nope", workspace=tiny_ws, as_of=T)


def test_backtest_writes_nothing(tiny_ws: Workspace) -> None:
    leadscore.backtest(_model_path(tiny_ws), workspace=tiny_ws, as_of=T, rolling=2)
    with tiny_ws.open_store(read_only=True) as store:
        assert store.count("scores") == 0 and store.count("score_history") == 0
        assert store.count("score_runs") == 0 and store.count("model_versions") == 0


def test_without_deals_and_without_label_the_yes_no_columns_are_named(tmp_path: Path) -> None:
    """A workspace imported from an export with only a `Converted` flag: backtest and report say
    to use --label and name the candidates, likeliest first, instead of "none converted"."""
    ws = leadscore.init(tmp_path / "ws")
    data = tmp_path / "leads.csv"
    data.write_text("Prospect ID,Converted,Do Not Email,Visits\np1,1,No,3\np2,0,Yes,5\np3,0,No,1\n")
    leadscore.import_file("contacts", data, workspace=ws.root)
    model = ws.models_dir / "m.yml"
    model.write_text("version: 1\nname: m\ntiers: {cold: 0, hot: 2}\ngroups:\n  fit:\n    rules:\n"
                     "      - {name: busy, when: {property: visits, gte: 3}, points: 5}\n")
    leadscore.publish(model, workspace=ws.root)
    for call in (lambda: leadscore.backtest("m", workspace=ws.root, as_of="2026-01-01"),
                 lambda: leadscore.report(workspace=ws.root, as_of="2026-01-01")):
        with pytest.raises(LeadscoreError, match=r"use --label COLUMN .*: converted, do_not_email"):
            call()
    assert leadscore.backtest("m", workspace=ws.root, as_of="2026-01-01", label="converted") is not None
