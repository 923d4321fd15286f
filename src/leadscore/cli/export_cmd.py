"""``leadscore export scores`` and ``leadscore top``: get scores out."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import EngineOpt, JsonOpt, ModelOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


class What(StrEnum):
    scores = "scores"
    predictions = "predictions"
    data = "data"


class Level(StrEnum):
    contact = "contact"
    account = "account"


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command("export")
def export_command(
    what: Annotated[What, typer.Argument(
        help="scores or predictions (a file), or data (contacts, events, deals, property history as a Parquet lake).")],
    target: Annotated[Path | None, typer.Argument(help="Output file, or directory (data).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file or directory.")] = None,
    file_format: Annotated[
        Format | None, typer.Option("--format", help="csv or parquet (default: from --out).")
    ] = None,
    model: ModelOpt = None,
    level: Annotated[Level, typer.Option("--level", help="contact scores, or account (company) scores.")]
    = Level.contact,
    engine: EngineOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="data: write over tables already in DIR.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export stored scores (contact_id, model, model_version, score, tier, grade, group_*, as_of,
    computed_at, and probability/priority once `leadscore predict` ran), predictions alone
    (contact_id, model, model_version, probability, priority, reasons, as_of, computed_at), or the
    workspace's data as a lake for engine spark.

    With --level account: company_id, name, domain, owner, model, model_version, score, tier, grade,
    group_*, as_of, computed_at.

    Example: leadscore export scores --format parquet --out scores.parquet

    Example: leadscore export scores --level account --out accounts.csv

    Example: leadscore export scores --engine spark --out scores.csv   (the scores of the Spark runs)

    Example: leadscore export predictions --out predictions.csv   (no rule model needed)

    Example: leadscore export predictions --level account --out accounts.csv   (companies' predictions)

    Example: leadscore export data lake   (lake/contacts/, events/, deals/, companies/, property_history/)
    """
    where = out or target
    if where is None:
        raise typer.BadParameter("say where: leadscore export scores --out FILE, or export data DIR")
    if what is What.data:
        if engine not in (None, "duckdb"):
            raise typer.BadParameter("export data writes the store's tables; it takes no --engine")
        counts = library.export_data(where, workspace=workspace, replace=replace)
        console.print(", ".join(f"{n:,} {table}" for table, n in counts.items()) + f" written to {where}/")
        return
    if what is What.predictions:
        if engine not in (None, "duckdb"):
            raise typer.BadParameter("export predictions writes the workspace's stored predictions; it takes no "
                                     "--engine")
        n = library.export_predictions(where, workspace=workspace, model=model, level=level.value,
                                       file_format=file_format.value if file_format else None)
    else:
        n = library.export_scores(where, workspace=workspace, model=model, engine=engine, level=level.value,
                                  file_format=file_format.value if file_format else None)
    console.print(f"wrote {n:,} rows to {where}")


@app.command("top")
def top_command(
    model: ModelOpt = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Only this tier, e.g. sql.")] = None,
    n: Annotated[int, typer.Option("-n", help="How many.")] = 20,
    level: Annotated[Level, typer.Option("--level", help="contacts, or accounts (companies).")] = Level.contact,
    owner: Annotated[str | None, typer.Option("--owner", help="Accounts: only those this rep owns.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The best-scored contacts (or companies): who to call today.

    Example: leadscore top --tier sql -n 20
    Example: leadscore top --level account --owner ann@acme.com
    """
    if level is Level.account:
        accounts = library.top_accounts(workspace=workspace, model=model, tier=tier, owner=owner, n=n)
        if as_json:
            print_json(accounts)
            return
        predicted = any(a.priority for a in accounts)  # after `leadscore predict --level account`
        table = Table("company", "name", "domain", "owner", "contacts", "score", "tier",
                      *(("priority", "probability") if predicted else ()))
        for a in accounts:
            extra = ((a.priority or "", "" if a.probability is None else f"{a.probability:.1%}") if predicted
                     else ())
            table.add_row(a.company_id, a.name or "", a.domain or "", a.owner or "", str(a.contacts),
                          f"{a.score:.1f}", a.tier, *extra)
        console.print(table)
        return
    rows = library.top(workspace=workspace, model=model, tier=tier, n=n)
    if as_json:
        print_json(rows)
        return
    table = Table("contact", "name", "title", "company", "score", "tier")
    for r in rows:
        table.add_row(r.contact_id, r.name, r.job_title or "", r.company or "", f"{r.score:.1f}", r.tier)
    console.print(table)
