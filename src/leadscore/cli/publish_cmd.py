"""``leadscore publish`` and ``leadscore models``: record model versions and list them (with the
predictive models ``leadscore train`` made, and their metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore import admin, library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json
from leadscore.cli.main import app


@app.command("publish")
def publish_command(
    model_file: Annotated[Path, typer.Argument(help="The model YAML file to publish.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a model and record it as a new version; scores always name the version that made them.

    Example: leadscore publish models/b2b.yml && leadscore score
    """
    version = library.publish(model_file, workspace=workspace)
    if as_json:
        print_json({"model": version.model, "version": version.version, "hash": version.hash,
                    "published_at": version.published_at})
        return
    console.print(f"published [bold]{version.model}[/] version {version.version} ({version.hash})")


@app.command("models")
def models_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List published rule models and their versions, and trained predictive models with their metrics.

    Example: leadscore models --json
    """
    from rich.table import Table

    found = admin.models(workspace=workspace)
    if as_json:
        print_json(found)
        return
    table = Table("model", "version", "hash", "file", "published at")
    for r in found:
        if r["kind"] == "rules":
            table.add_row(r["model"], str(r["version"]), r["hash"], r["file"] or "",
                          f"{r['published_at']:%Y-%m-%d %H:%M}")
    console.print(table)
    predictive = [r for r in found if r["kind"] == "predictive"]
    if predictive:
        table = Table("predictive", "v", "label", "learner", "AUC", "AP", "lift@10%", "ECE", "base", "pos.",
                      title="predictive models (AP: average precision; pos.: converted contacts, or companies "
                            "for a model of companies)")
        for p in predictive:
            m = p["metrics"]
            label = p["label"] + (f" {p['horizon_days']}d" if p["horizon_days"] else "")
            name = p["model"] + ("\n(companies)" if p.get("level") == "account" else "")  # no extra column
            table.add_row(name, str(p["version"]), label, f"{p['learner']}+{p['calibration']}",
                          f"{m['auc']:.3f}", f"{m['average_precision']:.2f}", f"{m['top_decile_lift']:.1f}×",
                          f"{m['ece']:.3f}", f"{m['base_rate']:.1%}", f"{int(m['positives_total']):,}")
        console.print(table)
        for p in predictive:  # the card's warnings: leakage accepted, identifiers dropped, assumed values
            for warning in p["metrics"].get("warnings", []):
                err_console.print(f"[yellow]{p['model']} v{p['version']}:[/] {warning}", highlight=False)
