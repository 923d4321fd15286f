"""``leadscore columns``: every column a model can use, with its type, fill rate and frequent values."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.workspace import Workspace


def test_columns_lists_types_fill_rates_and_frequent_values(small_ws: Workspace) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["columns", "--json", "-w", str(small_ws.root)])
    assert out.exit_code == 0, out.output
    rows = {(r["table"], r["column"]): r for r in json.loads(out.output)}
    title = rows[("contacts", "job_title")]
    assert (title["type"], title["rows"], title["filled"]) == ("VARCHAR", 5, 4)  # c4 has none
    assert title["top_values"] == [{"value": "CEO", "count": 2}]  # values seen once are left out
    assert rows[("contacts", "company_size")]["fill_rate"] == 0.8
    assert [(v["value"], v["count"]) for v in rows[("events", "type")]["top_values"]] == [
        ("email_open", 3), ("demo_request", 2), ("page_view", 2)]
    text = runner.invoke(app, ["columns", "contacts", "-w", str(small_ws.root)]).output
    assert "job_title" in text and "CEO (2)" in text and "events" not in text
    bad = runner.invoke(app, ["columns", "deals", "-w", str(small_ws.root)])
    assert bad.exit_code != 0
