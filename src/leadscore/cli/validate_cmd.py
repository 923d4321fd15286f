"""``leadscore validate`` and ``leadscore schema``: check a model; print the model JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


@app.command("validate")
def validate_command(
    model_files: Annotated[list[Path] | None, typer.Argument(help="Model files (default: models/*.yml).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check model files: unknown keys, properties, event types, wrong types, tiers — all at once.

    Example: leadscore validate models/b2b.yml
    """
    files = model_files or _workspace_models(workspace)
    report = []
    for path in files:
        loaded, warnings = library.validate(path, workspace=workspace)
        report.append({"file": str(path), "model": loaded.model.name, "ok": True,
                       "warnings": [str(w) for w in warnings]})
        if not as_json:
            console.print(f"[green]ok[/] {path} (model `{loaded.model.name}`, "
                          f"{len(loaded.model.rules())} rules)")
            for w in warnings:
                console.print(f"  [yellow]{w}[/]", highlight=False)
    if as_json:
        print_json(report)


def _workspace_models(workspace: Path | None) -> list[Path]:
    from leadscore.workspace import Workspace

    files = Workspace.load(workspace).model_files()
    if not files:
        raise typer.BadParameter("no model files in models/; pass one explicitly")
    return files


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of model files (point your editor's YAML plugin at it).

    Example: leadscore schema > leadscore-model.schema.json
    """
    from leadscore.model.schema import model_json_schema

    print_json(model_json_schema())
