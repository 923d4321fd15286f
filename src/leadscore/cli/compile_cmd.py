"""``leadscore compile``: print the SQL a model compiles to, for DuckDB, Spark or Postgres."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leadscore import library
from leadscore.cli.common import AsOfOpt, WorkspaceOpt
from leadscore.cli.main import app
from leadscore.compiler import render_sql
from leadscore.errors import ModelError, WorkspaceError
from leadscore.model.loader import load_model
from leadscore.timeutil import parse_as_of


class Dialect(StrEnum):
    duckdb = "duckdb"
    spark = "spark"
    postgres = "postgres"


@app.command("compile")
def compile_command(
    model_file: Annotated[Path, typer.Argument(help="The model YAML file.")],
    dialect: Annotated[Dialect, typer.Option("--dialect", "-d", help="SQL dialect.")] = Dialect.duckdb,
    as_of: AsOfOpt = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Restrict to one contact.")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="Add per-rule columns (r_i, rraw_i, rn_i, rf_i).")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print the one SQL query that computes the model's scores; run it in your own warehouse.

    Example: leadscore compile models/b2b.yml --dialect spark --as-of 2025-06-30
    """
    loaded = load_model(model_file)
    when = parse_as_of(as_of)
    contact_columns, event_columns = _workspace_columns(workspace)  # custom columns imports added
    try:
        sql = render_sql(loaded.model, as_of=when, dialect=dialect.value, contact_id=contact, detail=detail,
                         contact_columns=contact_columns, event_columns=event_columns)
    except ModelError as exc:  # the compiler's own check: point at the file and line, as validate does
        raise ModelError([dataclasses.replace(i, file=loaded.file, line=i.line or loaded.line_for(i.path))
                          for i in exc.issues]) from None
    typer.echo(f"-- leadscore model `{loaded.model.name}` ({loaded.hash}) as of {when.isoformat()}, "
               f"{dialect.value}")
    typer.echo(sql + ";")


def _workspace_columns(workspace: Path | None) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The store's contact and event columns when there is a workspace; else None (built-in ones)."""
    try:
        with library.open_store(workspace, read_only=True) as store:
            return store.scoring_columns()
    except WorkspaceError:
        return None, None
