"""``leadscore score``: score every contact with every published model (or one contact)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from leadscore.cli.common import (
    AsOfOpt,
    EngineOpt,
    JsonOpt,
    ModelOpt,
    WorkspaceOpt,
    console,
    err_console,
    print_json,
)
from leadscore.cli.main import app


@app.command("score")
def score_command(
    model: ModelOpt = None,
    as_of: AsOfOpt = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Rescore only this contact.")] = None,
    company: Annotated[str | None, typer.Option("--company", help="Rescore only this company (account models).")]
    = None,
    allow_future: Annotated[bool, typer.Option("--allow-future", help="Store scores as of a future moment "
                                               "(refused by default: events would count as older than they are).")
                            ] = False,
    engine: EngineOpt = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="engine spark: a directory with contacts/ events/ deals/ as Parquet.")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", help="engine spark: where the Iceberg tables of results go.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute scores as of a moment, record history where they changed and the tier crossings.

    A model that cannot be scored is reported (exit status 1) and the other models still score.

    Example: leadscore score --as-of 2025-06-30   (uses only events up to that day)

    Example: leadscore score --engine spark --source lake --output lake/leadscore
    """
    from rich.table import Table

    from leadscore import library
    from leadscore.cli.predict_cmd import print_predicted

    models = [model] if model else None
    with console.status("scoring…", spinner="dots") if not as_json else nullcontext():
        if contact:
            if engine not in (None, "duckdb"):
                raise typer.BadParameter("one contact is rescored on DuckDB (the store); on --engine "
                                         f"{engine} score the whole base", param_hint="--contact")
            runs = library.score_one(contact, workspace=workspace, models=models, as_of=as_of,
                                     allow_future=allow_future)
        elif company:
            runs = library.score_company(company, workspace=workspace, models=models, as_of=as_of,
                                         allow_future=allow_future)
        else:
            runs = library.score(workspace=workspace, models=models, as_of=as_of, allow_future=allow_future,
                                 engine=engine, source=source, output=output)
    if as_json:
        print_json(list(runs))
    elif not runs and not runs.failures:
        console.print("no published model: run `leadscore publish models/NAME.yml` first")
        raise typer.Exit(1)
    else:
        for r in runs:
            what = "companies" if r.level == "account" else "contacts"
            console.print(
                f"[bold]{r.model}[/] v{r.model_version} as of {r.as_of:%Y-%m-%d %H:%M}: {r.contacts:,} "
                f"{what} scored in {r.seconds:.2f}s, {r.changed:,} changed, {r.crossings:,} tier crossings"
            )
            table = Table("tier", what)
            for tier, n in r.tier_counts.items():
                table.add_row(tier, f"{n:,}")
            console.print(table)
        if runs.waiting:  # workflows queued webhooks or e-mails (or earlier ones still wait)
            console.print(f"{runs.waiting:,} deliveries waiting: `leadscore worker` (or `leadscore serve`) sends them")
        print_predicted(runs.predicted)
    for failure in runs.failures:
        err_console.print(f"[bold red]error:[/] {failure.error}; the other models were scored", highlight=False)
    if runs.failures:
        raise typer.Exit(1)
