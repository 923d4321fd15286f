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


def test_the_server_lines_say_how_many_small_writes_waited_for_a_batch() -> None:
    from leadscore.bench.api import server_and_store_lines

    server = {"transactions": 10.0, "requests_per_transaction": 1.5, "transaction_ms": 40.0, "rescore_ms": 30.0,
              "side_jobs": 95.0, "after_main": 5.0}
    lines = server_and_store_lines(server, 1_000, 1_200, 200, True)
    assert "95 small writes beside batches, 5 after the batch holding their contact (5.0%)" in lines[1]
    assert lines[2].startswith("store after SIGTERM: 1,200 events (200 new, 200 bench ids)")
    assert len(server_and_store_lines({**server, "side_jobs": 0.0, "after_main": 0.0}, 1, 1, 0, True)) == 2
