"""``leadscore bench api-large`` works end to end on a tiny store (what it measures is not asserted:
speed is for the bench to report, not for a test to time)."""

from __future__ import annotations

from pathlib import Path

from leadscore.bench.api_large import format_api_large_bench, run_api_large_bench


def test_api_large_bench_runs_every_phase_and_loses_nothing(tmp_path: Path) -> None:
    result = run_api_large_bench(tmp_path, contacts=300, events=3000, clients=2, seconds=1.0, batch=20,
                                 singles=10, cold_singles=5, sample=100)
    assert [p.name for p in result.phases] == [
        "single x1 before the first rescoring", "single x1", "single x1 beside batch 20 x2",
        "batch 20 x2 (beside it)", "batch 20 x2", "single x1 during full rescoring"]
    assert all(p.errors == 0 and p.requests > 0 and p.p99_ms >= p.p50_ms > 0 for p in result.phases)
    assert result.rescoring_status == 200 and result.first_rescoring_seconds > 0 and not result.reused_store
    sent = sum(p.events for p in result.phases) + 20  # + the warm-up requests
    assert result.accepted == sent == result.events_after - result.events_before
    assert result.clean_exit and result.server["transactions"] > 0
    text = format_api_large_bench(result)
    assert "p99 ms" in text and "targets:" in text and "clean" in text
    # the second run starts from a copy of the pristine store
    again = run_api_large_bench(tmp_path, contacts=300, events=3000, clients=1, seconds=1.0, batch=5,
                                singles=3, cold_singles=2, sample=50)
    assert again.reused_store and again.events_before == result.events_before
