"""``leadscore compile``: print the SQL a model compiles to, for DuckDB, Spark or Postgres."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.common import AsOfOpt, WorkspaceOpt
from leadscore.cli.main import app


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
    company: Annotated[str | None, typer.Option("--company", help="Restrict an account model to one company.")]
    = None,
    detail: Annotated[bool, typer.Option("--detail", help="Add per-rule columns (r_i, rraw_i, rn_i, rf_i).")] = False,
    history_table: Annotated[str | None, typer.Option(
        "--history-table", help="Read properties as of --as-of from this table of property changes "
                                "(contact_id, property, old_value, new_value, changed_at): property_history")] = None,
    company_history_table: Annotated[str | None, typer.Option(
        "--company-history-table", help="An account model: read company properties as of --as-of from this "
                                        "table (company_id, property, ...): company_property_history")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print the one SQL query that computes the model's scores; run it in your own warehouse.

    An account model (`level: account`) compiles in a workspace, with the contact models it rolls
    up as published there.

    Example: leadscore compile models/b2b.yml --dialect spark --as-of 2025-06-30
    Example: leadscore compile models/b2b.yml --as-of 2025-06-30 --history-table property_history

    Example: leadscore compile models/accounts.yml --dialect postgres --company k_0042
    """
    from leadscore import admin

    compiled = admin.compile(model_file, workspace=workspace, dialect=dialect.value, as_of=as_of,
                             contact_id=contact, detail=detail, company_id=company, history_table=history_table,
                             company_history_table=company_history_table)
    typer.echo(f"-- leadscore model `{compiled.model}` ({compiled.hash}) as of {compiled.as_of.isoformat()}, "
               f"{compiled.dialect}")
    typer.echo(compiled.sql + ";")
