"""docs/reports.md stays complete: every option of the report commands and every flag is explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.cli.main import app
from leadscore.reports import audit_rules

DOC = (Path(__file__).parents[2] / "docs" / "reports.md").read_text(encoding="utf-8")
GENERIC = {"--workspace", "--json", "--help", "--model"}  # explained once in docs/cli.md


@pytest.mark.parametrize("command", ["backtest", "report", "audit", "suggest"])
def test_every_option_is_documented(command: str) -> None:
    import typer.main

    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    options = {opt for param in click_command.params for opt in param.opts if opt.startswith("--")}
    missing = sorted(options - GENERIC - {o for o in options if o in DOC})
    assert not missing, f"docs/reports.md does not mention {missing} of `leadscore {command}`"
    assert f"leadscore {command}" in DOC


def test_every_rule_flag_is_documented() -> None:
    for phrase in ("fires on almost everyone", "almost no one", "never fires", "contradicts its sign",
                   "near-duplicate"):
        assert phrase in DOC
    assert f"|z| ≥ {audit_rules.Z_CLEAR:g}" in DOC and f"Jaccard ≥ {audit_rules.DUPLICATE_JACCARD:g}" in DOC
    assert "![The report on the demo workspace](report.png)" in DOC
    assert (Path(__file__).parents[2] / "docs" / "report.png").stat().st_size > 10_000


def test_every_flag_kind_of_the_json_is_documented() -> None:
    for kind in audit_rules.FlagKind:
        assert f"`{kind.value}`" in DOC
    assert "`flag_details`" in DOC and "`partner_index`" in DOC
