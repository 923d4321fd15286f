"""``leadscore score``: score every contact with every published model (or one contact)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import AsOfOpt, JsonOpt, ModelOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app
from leadscore.cli.predict_cmd import print_predicted


@app.command("score")
def score_command(
    model: ModelOpt = None,
    as_of: AsOfOpt = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Rescore only this contact.")] = None,
    allow_future: Annotated[bool, typer.Option("--allow-future", help="Store scores as of a future moment "
                                               "(refused by default: events would count as older than they are).")
                            ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute scores as of a moment, record history where they changed and the tier crossings.

    Example: leadscore score --as-of 2025-06-30   (uses only events up to that day)
    """
    models = [model] if model else None
    with console.status("scoring…", spinner="dots") if not as_json else nullcontext():
        if contact:
            runs = library.score_one(contact, workspace=workspace, models=models, as_of=as_of,
                                     allow_future=allow_future)
        else:
            runs = library.score(workspace=workspace, models=models, as_of=as_of, predict=False,
                                 allow_future=allow_future)
        predicted = None if contact else library.refresh_predictions(
            workspace=workspace, as_of=runs[0].as_of if runs else as_of)
    if as_json:
        print_json(runs)
        return
    if not runs:
        console.print("no published model: run `leadscore publish models/NAME.yml` first")
        raise typer.Exit(1)
    for r in runs:
        console.print(
            f"[bold]{r.model}[/] v{r.model_version} as of {r.as_of:%Y-%m-%d %H:%M}: {r.contacts:,} "
            f"contacts scored in {r.seconds:.2f}s, {r.changed:,} changed, {r.crossings:,} tier crossings"
        )
        table = Table("tier", "contacts")
        for tier, n in r.tier_counts.items():
            table.add_row(tier, f"{n:,}")
        console.print(table)
    waiting = library.delivery_counts(workspace=workspace).get("pending", 0)
    if waiting:  # workflows queued webhooks or e-mails (or earlier ones still wait)
        console.print(f"{waiting:,} deliveries waiting: `leadscore worker` (or `leadscore serve`) sends them")
    print_predicted(predicted)
