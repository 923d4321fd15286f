"""``leadscore columns``: every contact and event column with its type, fill rate and frequent values."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


@app.command("columns")
def columns_command(
    table: Annotated[str | None, typer.Argument(help="contacts or events (default: both).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every contact and event column: type, fill rate and most frequent values (what a model can use).

    Example: leadscore columns contacts
    """
    profiles = library.columns(table, workspace=workspace)
    if as_json:
        print_json([{"table": p.table, "column": p.name, "type": p.type, "rows": p.rows, "filled": p.filled,
                     "fill_rate": round(p.fill_rate, 4), "top_values": [{"value": v, "count": n} for v, n in p.top]}
                    for p in profiles])
        return
    for name in dict.fromkeys(p.table for p in profiles):
        mine = [p for p in profiles if p.table == name]
        grid = Table(title=f"{name} ({mine[0].rows:,} rows)" if mine else name, title_justify="left")
        for heading in ("column", "type", "filled", "most frequent values"):
            grid.add_column(heading, overflow="fold")
        for p in mine:
            grid.add_row(escape(p.name), p.type.lower(), f"{p.fill_rate:.0%}",
                         escape(" · ".join(f"{v} ({n:,})" for v, n in p.top)))
        console.print(grid)
