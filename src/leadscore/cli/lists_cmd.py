"""``leadscore lists`` and ``leadscore tasks``: what workflows produced for people to act on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

lists_app = typer.Typer(no_args_is_help=False, add_completion=False)
app.add_typer(lists_app, name="lists")
tasks_app = typer.Typer(no_args_is_help=False, add_completion=False)
app.add_typer(tasks_app, name="tasks")


@lists_app.callback(invoke_without_command=True)
def lists_command(ctx: typer.Context, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List static lists (filled by workflows) and segments (defined in leadscore.yml) with their sizes.

    Subcommands: `show NAME` lists members, `export NAME --out FILE` writes their contacts.

    Example: leadscore lists show hot-leads -n 20
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = library.lists(workspace=workspace)
    if as_json:
        print_json(rows)
        return
    table = Table("list", "kind", "members")
    for r in rows:
        table.add_row(r["name"], r["kind"], f"{r['members']:,}")
    console.print(table)


@lists_app.command("show")
def show_list_command(
    name: Annotated[str, typer.Argument(help="List or segment name.")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many contact ids.")] = 100,
    after: Annotated[str | None, typer.Option("--after", help="Continue after this contact id.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The contact ids of a list or segment, in id order (a segment is evaluated now).

    Example: leadscore lists show saas-nurture --json
    """
    ids = library.list_members(name, workspace=workspace, limit=n, after=after)
    if as_json:
        print_json(ids)
        return
    for cid in ids:
        console.print(cid, highlight=False)


@lists_app.command("export")
def export_list_command(
    name: Annotated[str, typer.Argument(help="List or segment name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .csv or .parquet.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the contacts of a list or segment (every contact column) to CSV or Parquet.

    Example: leadscore lists export saas-nurture --out saas-nurture.csv
    """
    n = library.export_list(name, out, workspace=workspace)
    console.print(f"wrote {n:,} contacts to {out}")


@tasks_app.callback(invoke_without_command=True)
def tasks_command(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's tasks.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open or done.")] = None,
    n: Annotated[int, typer.Option("-n", min=1, help="How many (newest first).")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tasks that workflows created for sales reps. Subcommand: `done ID`.

    Example: leadscore tasks --owner alice --status open
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = library.tasks(workspace=workspace, owner=owner, status=status, limit=n)
    if as_json:
        print_json(rows)
        return
    table = Table("task id", "contact / company", "owner", "title", "due", "status", "workflow")
    for t in rows:
        due = f"{t['due_at']:%Y-%m-%d}" if t["due_at"] else ""
        about = t["contact_id"] or f"company {t.get('company_id')}"  # an account workflow's task
        table.add_row(t["task_id"], about, t["owner"] or "", t["title"], due, t["status"],
                      f"{t['model']}/{t['workflow']}")
    console.print(table)


@tasks_app.command("done")
def task_done_command(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Mark a task done.

    Example: leadscore tasks done 0cc175b9c0f1b6a831c399e269772661
    """
    library.complete_task(task_id, workspace=workspace)
    console.print(f"task {task_id} done")
