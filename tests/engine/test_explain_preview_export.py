"""explain adds up to the stored total; preview compares a draft; export writes every column."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
import pytest
from tests.smalldata import AS_OF

import leadscore
from leadscore.errors import NotFoundError
from leadscore.workspace import Workspace


@pytest.fixture
def scored(small_ws: Workspace) -> Workspace:
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    leadscore.score(workspace=small_ws, as_of=AS_OF)
    return small_ws


def test_explain_adds_up_to_stored_total(scored: Workspace) -> None:
    e = leadscore.explain("c1", workspace=scored)
    assert e.as_of == AS_OF and e.model_version == 1
    assert e.total == pytest.approx(e.stored_score, abs=1e-12)
    assert e.groups_sum == pytest.approx(e.total, abs=1e-9)
    fit = next(g for g in e.groups if g.name == "fit")
    assert fit.rules_sum == 35 and fit.points == 30 and fit.clamped
    demo = next(r for r in e.rules if r.name == "demo")
    assert demo.fired and demo.raw == 25 and demo.points < 25
    assert [ev["event_id"] for ev in demo.matched_events] == ["e4"]
    opens = next(r for r in e.rules if r.name == "opens")
    assert opens.count == 2 and [ev["event_id"] for ev in opens.matched_events] == ["e3", "e2"]
    assert e.reasons(2)[0].startswith("demo")


def test_explain_unknown_contact(scored: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no contact"):
        leadscore.explain("nope", workspace=scored)


def test_preview_draft_rule_by_rule(scored: Workspace) -> None:
    draft = scored.models_dir / "draft.yml"
    draft.write_text((scored.models_dir / "small.yml").read_text().replace("points: 25", "points: 1"))
    [p] = leadscore.preview(draft, ["c1"], workspace=scored, as_of=AS_OF)
    assert p.published is not None and p.published.tier == "sql"
    demo = next(r for r in p.rules if r.name == "demo")
    assert demo.delta == pytest.approx(-24 * 0.5 ** (1 / 30), abs=1e-9)
    assert p.delta == pytest.approx(demo.delta, abs=1e-9)
    dist = leadscore.preview_tiers(draft, workspace=scored, as_of=AS_OF)
    assert dist.published_counts == {"cold": 2, "nurture": 1, "sql": 1}
    assert dist.draft_counts == {"cold": 2, "nurture": 2, "sql": 0}  # c1: 30 + 5 + 3.07 + 0.98 < 40
    assert dist.changed_tier == 1 and dist.moves[("sql", "nurture")] == 1


def test_export_csv_and_parquet(scored: Workspace, tmp_path) -> None:
    n = leadscore.export_scores(tmp_path / "s.csv", workspace=scored)
    assert n == 4
    with open(tmp_path / "s.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["contact_id", "model", "model_version", "score", "tier", "grade",
                             "group_fit", "group_engagement", "as_of", "computed_at"]
    assert rows[0]["contact_id"] == "c1" and rows[0]["group_fit"] == "30.0"
    leadscore.export_scores(tmp_path / "s.parquet", workspace=scored)
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.num_rows == 4 and "group_engagement" in table.column_names


def test_top(scored: Workspace) -> None:
    rows = leadscore.top(workspace=scored, n=2)
    assert [r.contact_id for r in rows] == ["c1", "c3"]
    assert [r.contact_id for r in leadscore.top(workspace=scored, tier="cold")] == ["c4", "c2"]


def test_preview_defaults_to_the_as_of_of_the_last_run(scored: Workspace) -> None:
    draft = scored.models_dir / "small.yml"
    default = leadscore.preview_tiers(draft, workspace=scored)
    assert default.as_of == AS_OF  # not today: the published side matches the stored scores
    assert default.published_counts == {"cold": 2, "nurture": 1, "sql": 1}
    [p] = leadscore.preview(draft, ["c1"], workspace=scored)
    assert p.published is not None and p.published.total == pytest.approx(p.draft.total, abs=1e-12)
