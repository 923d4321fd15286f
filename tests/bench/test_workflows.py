"""The workflows benchmark runs end to end on a small base: workflows fire, the worker delivers."""

from __future__ import annotations

import os

from leadscore.bench.workflows import format_workflows_bench, run_workflows_bench


def test_workflows_bench_fires_and_delivers() -> None:
    before = os.environ.get("SALES_HOOK_URL")
    figures = run_workflows_bench(contacts=3_000, events=60_000, send_limit=50)
    assert os.environ.get("SALES_HOOK_URL") == before  # the receiver's URL does not leak out
    assert figures["fired"] and figures["queued"] > 0 and figures["tasks"] > 0
    assert 0 < figures["delivered"] <= 50
    text = format_workflows_bench(figures)
    assert "engine only" in text and "with workflows" in text and "webhooks delivered" in text
