"""``leadscore deliveries``: the outbox of webhooks and e-mails, its dead letters, and replays."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

deliveries_app = typer.Typer(no_args_is_help=False, add_completion=False)
app.add_typer(deliveries_app, name="deliveries")

StatusOpt = Annotated[
    str | None,
    typer.Option("--status", "-s", help="pending, failed (waiting for a retry), sending, delivered or dead."),
]


@deliveries_app.callback(invoke_without_command=True)
def deliveries_command(
    ctx: typer.Context,
    status: StatusOpt = None,
    n: Annotated[int, typer.Option("-n", min=1, help="How many (newest first).")] = 50,
    after: Annotated[str | None, typer.Option("--after", help="Continue after this action id.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List webhook and e-mail deliveries: what is pending, failing, delivered or dead.

    Subcommands: `retry` replays dead letters, `show ID` lists one action's attempts.

    Example: leadscore deliveries --status dead
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = library.deliveries(workspace=workspace, status=status, limit=n, after=after)
    if as_json:
        print_json(rows)
        return
    table = Table("action id", "kind", "workflow", "contact / company", "target", "status", "tries", "next / done",
                  "last error")
    for d in rows:
        when = d.delivered_at or d.next_attempt_at
        who = d.contact_id if d.company_id is None else f"company {d.company_id}"  # an account model's
        table.add_row(d.action_id, d.kind, f"{d.model}/{d.workflow}", who, d.target or "",
                      d.status, str(d.attempts), f"{when:%Y-%m-%d %H:%M:%S}" if when else "",
                      (d.last_error or "")[:60])
    console.print(table)


@deliveries_app.command("retry")
def retry_command(
    action_ids: Annotated[list[str] | None, typer.Argument(help="Action ids to replay.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Replay every dead letter.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay dead (or waiting) deliveries now, with a fresh retry window and the same Idempotency-Key.

    Example: leadscore deliveries retry --all-dead
    """
    n = library.retry_deliveries(action_ids or None, workspace=workspace, all_dead=all_dead)
    if as_json:
        print_json({"requeued": n})
        return
    console.print(f"{n} deliveries queued again; `leadscore worker` (or the server) sends them")


@deliveries_app.command("show")
def show_command(
    action_id: Annotated[str, typer.Argument(help="The action id.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every attempt to deliver one action: when, the HTTP status or the error.

    Example: leadscore deliveries show 5d41402abc4b2a76b9719d911017c592
    """
    attempts = library.delivery_attempts(action_id, workspace=workspace)
    if as_json:
        print_json(attempts)
        return
    table = Table("attempt", "started", "seconds", "ok", "status", "error")
    for a in attempts:
        seconds = (a["finished_at"] - a["started_at"]).total_seconds()
        table.add_row(str(a["attempt"]), f"{a['started_at']:%Y-%m-%d %H:%M:%S}", f"{seconds:.2f}",
                      "yes" if a["ok"] else "no", str(a["status_code"] or ""), a["error"] or "")
    console.print(table)


@deliveries_app.command("purge")
def purge_command(
    older_than_days: Annotated[float, typer.Option("--older-than-days", min=0, help="Delivered before this.")] = 30,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete delivered actions (and their attempts) older than N days; pending and dead ones stay.

    Example: leadscore deliveries purge --older-than-days 90
    """
    n = library.purge_deliveries(workspace=workspace, older_than_days=older_than_days)
    if as_json:
        print_json({"purged": n})
        return
    console.print(f"purged {n:,} delivered actions")
