"""Suggested weights: the fit is sparse and signed right, the draft is valid and never published."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from tests.reports.handdata import T

import leadscore
from leadscore.errors import LeadscoreError
from leadscore.model.loader import load_model, parse_model
from leadscore.reports.frame import ScoredFrame
from leadscore.reports.outcomes import Outcome
from leadscore.reports.suggest import HEADER, fit_weights, holdout_mask
from leadscore.workspace import Workspace

THREE_RULES = """\
version: 1
name: three
groups:
  g:
    rules:
      - {name: signal, when: {property: job_title, equals: CEO}, points: 5}
      - {name: noise, when: {property: country, equals: FR}, points: 5}
      - {name: bad, when: {property: industry, equals: Retail}, points: 5}
"""


def _frame(n: int = 3000, seed: int = 7) -> ScoredFrame:
    rng = np.random.default_rng(seed)
    fired = rng.random((n, 3)) < 0.3
    logit = -2.0 + 2.5 * fired[:, 0] - 1.5 * fired[:, 2]  # `noise` has no effect
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    model = parse_model(THREE_RULES).model
    return ScoredFrame(model, T, Outcome(timedelta(days=90)), np.array([f"c{i}" for i in range(n)], object),
                       fired @ np.array([5.0, 5.0, 5.0]), np.array(["cold"] * n, object), fired, fired * 5.0, y,
                       np.full(n, np.nan), np.full(n, np.nan))


def test_fit_recovers_signs_and_drops_noise() -> None:
    beta, c = fit_weights(_frame())
    assert beta[0] > 1.5 and beta[2] < -0.8
    assert abs(beta[1]) < 0.1 * abs(beta[0])  # L1 shrinks the useless rule to (nearly) nothing
    assert c in (0.01, 0.03, 0.1, 0.3, 1.0)


def test_fit_refuses_too_few_outcomes() -> None:
    frame = _frame(n=200)
    frame = frame.subset(~frame.converted | (np.cumsum(frame.converted) <= 5))
    with pytest.raises(LeadscoreError, match="too few outcomes"):
        fit_weights(frame)


def test_holdout_is_seeded_and_about_thirty_percent() -> None:
    ids = np.array([f"c{i:05d}" for i in range(10_000)], object)
    mask = holdout_mask(ids)
    assert 0.28 < mask.mean() < 0.32
    shuffled = np.random.default_rng(1).permutation(ids.size)
    assert (holdout_mask(ids[shuffled]) == mask[shuffled]).all()  # by id, not by position


def test_suggest_on_the_demo_writes_a_valid_draft_and_never_publishes(demo_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "suggested.yml"
    with demo_ws.open_store(read_only=True) as store:
        versions_before = store.count("model_versions")
    s = leadscore.suggest(workspace=demo_ws, write=out)
    assert s.written == str(out) and out.read_text().startswith(HEADER)
    draft = load_model(out)
    current = load_model(demo_ws.models_dir / "b2b.yml").model
    assert [r.name for _, r in draft.model.rules()] == [r.name for _, r in current.rules()]
    assert draft.model.tiers == current.tiers and draft.model.workflows == current.workflows
    for (_, rule), sug in zip(draft.model.rules(), s.rules, strict=True):
        if rule.points is not None:
            assert rule.points == sug.suggested_points
    opens = next(r for _, r in draft.model.rules() if r.name == "email opens")
    old = next(r for _, r in current.rules() if r.name == "email opens")
    if opens.points_per_event:  # per-event points and max scale by the same ratio
        assert opens.max is not None and old.max is not None and old.points_per_event is not None
        assert opens.points_per_event / old.points_per_event == pytest.approx(opens.max / old.max, rel=0.05)
    assert s.comparison is not None and s.comparison.a.contacts == s.comparison.b.contacts
    with demo_ws.open_store(read_only=True) as store:
        assert store.count("model_versions") == versions_before
    # a second suggestion may replace the first; a hand-written model may not be overwritten
    leadscore.suggest(workspace=demo_ws, write=out)
    with pytest.raises(LeadscoreError, match="was not written by `leadscore suggest`"):
        leadscore.suggest(workspace=demo_ws, write=demo_ws.models_dir / "b2b.yml")
    assert (demo_ws.models_dir / "b2b.yml").read_text().startswith("# A scoring model")


def test_suggest_rejects_overlapping_windows(tiny_ws: Workspace) -> None:
    with pytest.raises(LeadscoreError, match="overlaps"):
        leadscore.suggest(str(tiny_ws.models_dir / "tiny.yml"), workspace=tiny_ws, as_of=T,
                          fit_as_of="2025-05-15", horizon="30d")


def test_cli_suggest_json_and_a_clear_error(demo_ws: Workspace, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from leadscore.cli.main import main

    out = tmp_path / "s.yml"
    with pytest.raises(SystemExit) as done:
        main(["suggest", "--json", "--write", str(out), "-w", str(demo_ws.root)])
    assert done.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["written"] == str(out) and len(data["rules"]) == 9
    assert data["comparison"]["a"]["contacts"] == data["comparison"]["b"]["contacts"] > 0
    # the hand data has 3 converters: far too few to fit anything, and the CLI says so (exit 2)
    tiny = tmp_path / "tiny"
    from tests.reports.handdata import fill_tiny

    from leadscore.workspace import init_workspace

    ws = init_workspace(tiny)
    fill_tiny(ws)
    with pytest.raises(SystemExit) as stop:
        main(["suggest", str(ws.models_dir / "tiny.yml"), "--as-of", "2025-06-01", "--horizon", "30d",
              "-w", str(tiny)])
    assert stop.value.code == 2
    assert "too few outcomes" in capsys.readouterr().err


def test_out_of_time_suggestion_is_backtested_on_everyone_later(demo_ws: Workspace) -> None:
    s = leadscore.suggest(workspace=demo_ws, as_of="2025-10-01", fit_as_of="2025-07-01")
    assert s.evaluation.startswith("out of time") and not any("sample" in n for n in s.notes)
    assert s.fit_as_of.isoformat() == "2025-07-01T00:00:00"
    assert s.comparison is not None
    full = leadscore.backtest(workspace=demo_ws, as_of="2025-10-01").result
    # the whole population at the later date, not a held-out sample
    assert s.comparison.a.contacts == s.comparison.b.contacts == full.contacts
    assert s.comparison.a.auc == pytest.approx(full.auc)
