"""``leadscore import contacts|events|deals|companies|history FILE``: load a CSV, Parquet or JSON-lines export."""

from __future__ import annotations

from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

if TYPE_CHECKING:
    from leadscore.ingest import ColumnMapping


class Kind(StrEnum):
    contacts = "contacts"
    events = "events"
    deals = "deals"
    companies = "companies"
    history = "history"


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


@app.command("import")
def import_command(
    kind: Annotated[Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="CSV (any delimiter, UTF-8 or Latin-1), .parquet or .jsonl.")],
    map_file: Annotated[Path | None, typer.Option("--map", help="YAML column mapping.")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Column holding the id.")] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Rename SOURCE=DEST (repeatable; DEST empty skips).")
    ] = None,
    file_format: Annotated[FileFormat | None, typer.Option("--format", help="Override the extension.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Abort on the first bad row, importing nothing.")] = False,
    allow_new_ids: Annotated[bool, typer.Option(
        "--allow-new-ids", help="Import contacts even when most rows have new ids but match stored contacts "
                                "by e-mail or by another id column.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import contacts, events, deals, companies or property history; bad rows go to a rejects file.

    Contacts and deals may name their company in a company_id column. history: a file of contact
    property changes, one row per change (contact_id, property, value, changed_at) or per period
    (contact_id, property, value, valid_from, valid_to); with company_id in place of contact_id,
    company property changes.

    Example: leadscore import contacts hubspot-export.csv --column "Record ID=contact_id"

    Example: leadscore import companies accounts.csv --column "Account ID=company_id"

    Example: leadscore import history contact_property_history.csv
    """
    from leadscore.ingest import ColumnMapping, load_mapping

    mapping: ColumnMapping | None = None
    if map_file or id_column or column:
        base = load_mapping(map_file) if map_file else ColumnMapping()
        mapping = base.with_flags(id_column=id_column, columns=column or [])
    if kind is Kind.history:
        _import_history(file, mapping, strict, file_format, workspace, as_json)
        return
    with Progress(TextColumn("importing {task.description}"), BarColumn(), DownloadColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{kind.value} from {file.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        r = library.import_file(kind.value, file, workspace=workspace, mapping=mapping, strict=strict,
                                progress=progress, file_format=file_format.value if file_format else None,
                                allow_new_ids=allow_new_ids)
    if as_json:
        print_json(r)
        return
    console.print(
        f"[bold]{r.kind}[/] from {file}: {r.inserted:,} imported, {r.updated:,} updated, "
        f"{r.duplicates:,} skipped as duplicate, {r.rejected:,} rejected "
        f"({r.rows_read:,} rows in {r.seconds:.2f}s)"
    )
    if r.columns_added:
        console.print(f"  new columns: {', '.join(r.columns_added)}")
    if r.changes:
        console.print(f"  {r.changes:,} property changes recorded in the history")
    if any(r.top_values.values()):
        console.print("  most frequent values of the new text columns (a placeholder such as `Select` can be "
                      "declared empty with null_values: in the mapping or leadscore.yml):", highlight=False)
        for name, values in r.top_values.items():
            if values:
                shown = " · ".join(f"{escape(v)!s} ({n:,})" for v, n in values)
                console.print(f"    {name}: {shown}", highlight=False)
    if r.unknown_contacts:
        console.print(f"  [yellow]{r.unknown_contacts:,} rows refer to contacts not imported yet[/]")
    for warning in r.warnings:
        console.print(f"  [yellow]{warning}[/]", highlight=False)
    if r.rejects_file:
        console.print(f"  [yellow]rejected rows with line numbers and reasons:[/] {r.rejects_file}",
                      highlight=False)


def _import_history(file: Path, mapping: ColumnMapping | None, strict: bool, file_format: FileFormat | None,
                    workspace: Path | None, as_json: bool) -> None:
    with console.status(f"importing history from {file.name}", spinner="dots") if not as_json else nullcontext():
        r = library.import_history(file, workspace=workspace, mapping=mapping, strict=strict,
                                   file_format=file_format.value if file_format else None)
    if as_json:
        print_json(r)
        return
    what = "history" if r.level == "contacts" else "company history"
    console.print(f"[bold]{what}[/] ({r.shape} format) from {file}: {r.recorded:,} changes recorded, "
                  f"{r.unchanged:,} already there, {r.rejected:,} rejected; {r.contacts_updated:,} current "
                  f"values moved to their latest change ({r.rows_read:,} rows in {r.seconds:.2f}s)")
    if r.columns_added:
        console.print(f"  new columns: {', '.join(r.columns_added)}")
    if r.rejects_file:
        console.print(f"  [yellow]rejected rows with line numbers and reasons:[/] {r.rejects_file}",
                      highlight=False)
