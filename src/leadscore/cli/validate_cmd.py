"""``leadscore validate`` and ``leadscore schema``: check a model; print the model JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore import admin
from leadscore.cli.common import EngineOpt, JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


@app.command("validate")
def validate_command(
    model_files: Annotated[list[Path] | None, typer.Argument(help="Model files (default: models/*.yml).")] = None,
    engine: EngineOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check model files: unknown keys, properties, event types, wrong types, tiers — all at once.

    On engine spark or postgres the model is checked against that engine's tables, and what the
    engine cannot compute as DuckDB does (a `set` action, a regex outside the portable subset) is refused.

    Example: leadscore validate models/b2b.yml

    Example: leadscore validate --engine postgres
    """
    report = []
    for path, loaded, warnings in admin.validate_models(model_files, workspace=workspace, engine=engine):
        report.append({"file": str(path), "model": loaded.model.name, "ok": True,
                       "warnings": [str(w) for w in warnings]})
        if not as_json:
            console.print(f"[green]ok[/] {path} (model `{loaded.model.name}`, "
                          f"{len(loaded.model.rules())} rules)")
            for w in warnings:
                console.print(f"  [yellow]{w}[/]", highlight=False)
    if as_json:
        print_json(report)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of model files (point your editor's YAML plugin at it).

    Example: leadscore schema > leadscore-model.schema.json
    """
    print_json(admin.schema())
