"""``make test`` runs the reliability suite small (``make reliability-quick``): every scenario once,
with its invariants (no partial state, nothing lost, no 5xx, no bypass); the full sizes and the
latency bound are ``make reliability``'s (docs/reliability.md)."""

from __future__ import annotations

import pytest
from tests.reliability.run import QUICK, run


@pytest.mark.slow
def test_the_quick_reliability_suite_holds() -> None:
    lines: list[str] = []
    results = run(QUICK, out=lines.append)
    assert len(results) >= 8, "\n".join(lines)
    assert not [f for f in results if f.failures], "\n".join(lines)
