"""`leadscore import history` and `leadscore history` as a user types them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.workspace import Workspace

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output if "--json" in args else " ".join(result.output.split())  # rich wraps lines


def test_import_history_then_show_it(small_ws: Workspace, tmp_path: Path) -> None:
    w = str(small_ws.root)
    file = tmp_path / "changes.csv"
    file.write_text("contact_id,property,value,changed_at\nc2,job_title,CEO,2025-03-01\n"
                    "c2,lifecycle_stage,customer,2025-04-01\n")
    out = run("import", "history", str(file), "-w", w)
    assert "2 changes recorded" in out
    assert "0 changes recorded, 2 already there" in run("import", "history", str(file), "-w", w)
    shown = run("history", "c2", "-w", w)
    # a history file says when each property got its values: before its first change, none
    assert re.search(r"job_title\W+\(empty\)\W+CEO\W+history:changes", shown), shown
    only = json.loads(run("history", "c2", "--property", "lifecycle_stage", "--json", "-w", w))
    assert [(c["old_value"], c["new_value"]) for c in only["property_changes"]] == [(None, "customer")]
    assert "no recorded property change" in run("history", "c1", "-w", w)


def test_a_contact_by_e_mail_a_property_as_the_file_names_it_and_values_shown_as_they_are(
        small_ws: Workspace, tmp_path: Path) -> None:
    w = str(small_ws.root)
    file = tmp_path / "changes.csv"
    file.write_text("contact_id,property,value,changed_at\nc2,lifecycle_stage,[red]customer,2025-04-01\n")
    run("import", "history", str(file), "-w", w)
    shown = run("history", "bob@gmail.com", "--property", "Lifecycle Stage", "-w", w)
    assert "[red]customer" in shown, shown  # a value is text, never rich markup


def test_an_unknown_property_or_model_is_an_error_naming_the_close_ones(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    result = runner.invoke(app, ["history", "c2", "--property", "job_titel", "-w", w])
    assert result.exit_code != 0
    assert "no contact property `job_titel`; did you mean `job_title`?" in str(result.exception)
    result = runner.invoke(app, ["history", "c2", "--model", "nope", "-w", w])
    assert result.exit_code != 0 and "no published model `nope`" in str(result.exception)
