"""``leadscore bench api`` works end to end on a tiny workspace (what it measures is not asserted: speed is
for the bench to report, not for a test to time)."""

from __future__ import annotations

from pathlib import Path

from leadscore.bench.api import format_api_bench, run_api_bench


def test_api_bench_runs_and_loses_nothing(tmp_path: Path) -> None:
    result = run_api_bench(tmp_path / "ws", contacts=300, events=3000, clients=2, seconds=1.0, batch=20,
                           single_requests=10)
    assert [p.name for p in result.phases] == ["single x1", "single x2", "batch 20 x2"]
    assert all(p.errors == 0 and p.requests > 0 and p.p99_ms >= p.p50_ms > 0 for p in result.phases)
    sent = sum(p.events for p in result.phases) + 20  # + the warm-up requests
    assert result.accepted == sent == result.events_after - result.events_before
    assert result.clean_exit and result.server["transactions"] > 0
    text = format_api_bench(result)
    assert "events/s" in text and "p99 ms" in text and "clean" in text
