"""``leadscore import contacts|events|deals FILE``: load a CSV, Parquet or JSON-lines export."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app
from leadscore.errors import ImportError_


class Kind(StrEnum):
    contacts = "contacts"
    events = "events"
    deals = "deals"


def _mapping(map_file: Path | None, id_column: str | None, columns: list[str]) -> object | None:
    from leadscore.ingest import ColumnMapping, load_mapping

    if map_file is None and id_column is None and not columns:
        return None
    mapping = load_mapping(map_file) if map_file else ColumnMapping()
    if id_column:
        mapping.id_column = id_column
    for pair in columns:
        if "=" not in pair:
            raise ImportError_(f"--column expects SOURCE=DEST, got {pair!r}")
        src, dest = pair.split("=", 1)
        mapping.columns[src.strip()] = dest.strip()
    return mapping


@app.command("import")
def import_command(
    kind: Annotated[Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="CSV (any delimiter, UTF-8 or Latin-1), .parquet or .jsonl.")],
    map_file: Annotated[Path | None, typer.Option("--map", help="YAML column mapping.")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Column holding the id.")] = None,
    column: Annotated[list[str] | None, typer.Option("--column", help="Rename: SOURCE=DEST (repeatable).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Abort on the first bad row.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import contacts, events or deals; bad rows go to a rejects file, good rows still import.

    Example: leadscore import contacts hubspot-export.csv --column "Record ID=contact_id"
    """
    mapping = _mapping(map_file, id_column, column or [])
    with Progress(TextColumn("importing {task.description}"), BarColumn(),
                  TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{kind.value} from {file.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        result = library.import_file(kind.value, file, workspace=workspace, mapping=mapping,
                                     strict=strict, progress=progress)
    if as_json:
        print_json(result)
        return
    r = result
    console.print(
        f"[bold]{r.kind}[/] from {file}: {r.inserted:,} imported, {r.updated:,} updated, "  # type: ignore[attr-defined]
        f"{r.duplicates:,} skipped as duplicate, {r.rejected:,} rejected "  # type: ignore[attr-defined]
        f"in {r.seconds:.2f}s"  # type: ignore[attr-defined]
    )
    if getattr(r, "columns_added", None):
        console.print(f"  new columns: {', '.join(r.columns_added)}")  # type: ignore[attr-defined]
    if getattr(r, "rejects_file", None):
        console.print(f"  [yellow]rejected rows with line numbers and reasons:[/] {r.rejects_file}")  # type: ignore[attr-defined]
