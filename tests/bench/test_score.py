"""The benchmark harness, and its hand-written query as a second differential check of the compiler.

The hand-written query is independent of the compiler, so agreement to 1e-9 on generated data at
several as-of instants (events after as-of invisible, late contacts unscored, decay from as-of)
is evidence that both implement docs/model-reference.md.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from leadscore.bench.score import BenchResult, format_bench, run_bench
from leadscore.bench.score_model import BENCH_GROUPS, BENCH_MODEL_YAML, HAND_WRITTEN_SQL
from leadscore.demo.generator import DemoData, generate, load_into_store
from leadscore.model.loader import parse_model
from leadscore.storage.store import Store


def _compile_model():  # type: ignore[no-untyped-def]
    from leadscore.compiler import compile_model

    return compile_model


@pytest.fixture(scope="module")
def loaded() -> tuple[Store, DemoData]:
    data = generate(3_000, 60_000, seed=11)
    store = Store.open(":memory:")
    load_into_store(store, data)
    return store, data


def test_bench_model_has_25_rules_in_three_groups() -> None:
    model = parse_model(BENCH_MODEL_YAML, "bench.yml").model
    assert len(model.rules()) == 25
    assert tuple(model.groups) == BENCH_GROUPS


@pytest.mark.parametrize("days_back", [0, 20, 120, 300])
def test_hand_written_query_agrees_with_compiler(loaded: tuple[Store, DemoData], days_back: int) -> None:
    compile_model = _compile_model()
    store, data = loaded
    as_of = data.as_of - timedelta(days=days_back, hours=7, microseconds=123)
    model = parse_model(BENCH_MODEL_YAML, "bench.yml").model
    compiled = compile_model(model, as_of=as_of, dialect="duckdb").sql(dialect="duckdb")
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE hand AS {HAND_WRITTEN_SQL(as_of)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE compiled AS {compiled}")
    row = con.execute("""
        SELECT count(*) FILTER (WHERE h.contact_id IS NULL OR c.contact_id IS NULL),
               count(*) FILTER (WHERE h.tier IS DISTINCT FROM c.tier),
               max(greatest(abs(h.score - c.score), abs(h.g_0 - c.g_0), abs(h.g_1 - c.g_1),
                            abs(h.g_2 - c.g_2))),
               count(DISTINCT h.tier), count(*)
        FROM hand h FULL JOIN compiled c ON h.contact_id = c.contact_id""").fetchone()
    assert row is not None
    missing, tier_mismatches, max_diff, tiers, rows = row
    assert (missing, tier_mismatches) == (0, 0)
    assert max_diff <= 1e-9
    assert rows > 0 and tiers >= 3  # the data exercises the tiers, not just one
    if days_back:
        unscored = con.execute("SELECT count(*) FROM contacts WHERE created_at > ?", [as_of]).fetchone()
        assert unscored is not None and rows == data.contacts.num_rows - unscored[0]


def test_tiny_bench_run(tmp_path: Path) -> None:
    _compile_model()
    result = run_bench(tmp_path / "bench", 2_000, 20_000, seed=5)
    assert result.agrees, format_bench(result)
    assert result.engine == "library.score"
    assert result.scored == result.hand_rows == 2_000
    assert len(result.hand_runs_s) == 2 and len(result.engine_runs_s) == 2 and result.hand_s > 0 and result.engine_s > 0
    assert 0 < result.peak_rss_mb < 2048
    assert math.isfinite(result.ratio)
    # the timed call is the whole of `leadscore score`: the engine's run plus what surrounds it
    assert {"engine.compile", "engine.query", "engine.write", "around the run"} <= set(result.phases)
    assert result.phases["around the run"] > 0
    text = format_bench(result)
    for label in ("hand-written query", "leadscore score", "ratio", "peak RSS", "agreement"):
        assert label in text
    assert result.to_dict()["ratio"] == result.ratio


def test_format_reports_a_mismatch() -> None:
    result = BenchResult(
        contacts=10, events=100, seed=1, as_of=datetime(2026, 1, 1), data_s=0.1,
        hand_runs_s=[0.3, 0.2], hand_cpu_s=0.4, engine="compiler", engine_s=0.4, engine_cpu_s=1.0,
        engine_wall_s=1.0,
        peak_rss_mb=120.0, scored=10, hand_rows=10, max_abs_diff=0.5, tier_mismatches=1,
        missing_rows=0)
    assert result.ratio == pytest.approx(2.0) and result.cpu_ratio == pytest.approx(2.5)
    assert not result.agrees and not result.passed
    text = format_bench(result)
    assert "MISMATCH" in text and "FAIL" in text


def test_score_run_times_what_leadscore_score_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The child times ``library.score``, so the bench model's workflow fires and settles as in
    ``leadscore score``: a `set` changes a property a rule reads, and the scores stored afterwards
    are the settled ones (the engine alone would have left them stale)."""
    import json

    from leadscore import library
    from leadscore.bench import score_run
    from leadscore.bench.score import compare_scores
    from leadscore.workspace import init_workspace

    data = generate(500, 5_000, seed=2)
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "b2b.yml").unlink()
    settle = BENCH_MODEL_YAML + """workflows:
  - name: students are not targets
    on: {enters_tier: warm}
    do:
      - set: {job_title: Student}
"""
    (ws.models_dir / "bench.yml").write_text(settle)
    with ws.open_store() as store:
        load_into_store(store, data)
    library.publish(ws.models_dir / "bench.yml", workspace=ws)
    library.score(workspace=ws, as_of=data.as_of - timedelta(days=30))  # a baseline: fires nothing
    assert score_run.main([str(ws.root), data.as_of.isoformat(), "--export", str(tmp_path / "engine.parquet")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["engine"] == "library.score" and report["model"] == "bench" and report["scored"] == 500
    assert set(report["phases"]) >= {"import", "engine.compile", "engine.query", "engine.write", "around the run"}
    assert 0 < report["peak_rss_mb"] < 2048
    with ws.open_store() as store:
        changed = store.con.execute("SELECT count(*) FROM property_changes").fetchone()
        assert changed is not None and changed[0] > 0  # the workflow fired and set job titles
        # the hand query over the contacts as the workflow left them: what settled scores must be
        store.con.execute(f"COPY ({HAND_WRITTEN_SQL(data.as_of)}) TO '{tmp_path / 'hand.parquet'}'")
    max_diff, tiers, missing = compare_scores(tmp_path / "hand.parquet", tmp_path / "engine.parquet", 3)
    assert (tiers, missing) == (0, 0) and max_diff <= 1e-9
