"""``leadscore suggest``: weights fitted on past outcomes, on the model's scale, written as a draft."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.backtest_cmd import HorizonOpt, LabelOpt, jsonable, render_comparison
from leadscore.cli.common import AsOfOpt, JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


@app.command("suggest")
def suggest_command(
    model: Annotated[str | None, typer.Argument(help="Published model name or draft file.")] = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = "90d",
    label: LabelOpt = None,
    fit_as_of: Annotated[str | None, typer.Option(
        "--fit-as-of", help="Fit on outcomes after this date (default: one horizon before --as-of).")] = None,
    write: Annotated[Path | None, typer.Option("--write", help="Write the suggestion as a draft model file.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite --write even if it is not an earlier suggestion.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suggest points per rule from a sparse logistic fit and backtest them; never publishes.

    Example: leadscore suggest b2b --as-of 2025-10-01 --write models/suggested.yml
             leadscore backtest models/suggested.yml --vs b2b    (then publish it yourself if it is better)
    """
    s = library.suggest(model, workspace=workspace, as_of=as_of, horizon=horizon, label=label,
                        fit_as_of=fit_as_of, write=write, force=force)
    if as_json:
        print_json(jsonable(s.to_dict()))
        return
    table = Table("group", "rule", "fires on", "current", "coefficient", "suggested")
    for r in s.rules:
        table.add_row(r.group, r.rule, f"{r.fired:,}", r.current, f"{r.coefficient:+.3f}",
                      f"{r.suggested_points:+g}")
    console.print(table)
    console.print(f"fitted as of {s.fit_as_of:%Y-%m-%d} (L1 strength C={s.strength_c:g}, "
                  f"{s.scale:.2f} points per unit of log-odds); evaluation: {s.evaluation}")
    for note in s.notes:
        console.print(f"  • {note}", highlight=False)
    if s.comparison is not None:
        render_comparison(s.comparison)
    if s.written:
        console.print(f"wrote the draft [bold]{s.written}[/] (not published: try `leadscore preview "
                      f"{s.written} --distribution`, then `leadscore publish {s.written}`)")
