"""``leadscore users create|list|disable|reset-password``: people who log in to the dashboard.

Users are not API keys: they log in with a password at ``leadscore serve``'s ``/`` and see what
their role allows (rep, marketing, admin; docs/dashboard.md). While a server runs it holds the
store: then an admin manages users on the dashboard's Users page.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from leadscore import admin
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json
from leadscore.cli.main import app

users_app = typer.Typer(help="Dashboard users: create, list, disable, reset-password. "
                             "Example: leadscore users create alice --role rep --owner-value alice@acme.io",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")

NameArg = Annotated[str, typer.Argument(help="The user name (letters, digits, . _ @ + -; case does not matter).")]
PasswordStdinOpt = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (first line) instead of generating one.")]


def _stdin_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users_app.command("create")
def create_command(
    username: NameArg,
    role: Annotated[str, typer.Option(help="rep (their own leads), marketing (models, reports, operations) "
                                           "or admin (also keys and users).")],
    owner_value: Annotated[str | None, typer.Option(
        "--owner-value", help="What the contacts' `owner` property holds for this person's leads.")] = None,
    manager: Annotated[bool, typer.Option("--manager", help="A rep who sees every lead, not only their own.")] = False,
    password_stdin: PasswordStdinOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a dashboard user and print its generated password (only the password, for scripts).

    With --password-stdin the password is read from standard input and nothing is printed on stdout.
    Example: leadscore users create alice --role rep --owner-value "Alice Martin"
    Example: echo "$PASS" | leadscore users create bob --role admin --password-stdin
    """
    password = _stdin_password() if password_stdin else None
    user, secret = admin.create_user(username, role, workspace=workspace, owner_value=owner_value,
                                       manager=manager, password=password)
    owner = f", owner {user.owner_value}" if user.owner_value else ""
    err_console.print(f"created user {user.username} ({user.role}{', manager' if user.manager else ''}{owner})",
                      highlight=False)
    if not password_stdin:
        typer.echo(secret)


@users_app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List users with role, owner value, manager flag, last log-in and whether they are disabled.

    Example: leadscore users list --json
    """
    found = admin.list_users(workspace=workspace)
    if as_json:
        print_json([u.to_dict() for u in found])
        return
    table = Table("user", "role", "owner value", "manager", "created", "last log-in", "disabled")
    for u in found:
        table.add_row(u.username, u.role, u.owner_value or "", "yes" if u.manager else "",
                      f"{u.created_at:%Y-%m-%d %H:%M}", f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "",
                      f"{u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "")
    console.print(table)


@users_app.command("disable")
def disable_command(username: NameArg, workspace: WorkspaceOpt = None) -> None:
    """Stop a user logging in; their open sessions end at once. Their feedback stays.

    Example: leadscore users disable alice
    """
    user = admin.disable_user(username, workspace=workspace)
    console.print(f"disabled {user.username}", highlight=False)


@users_app.command("reset-password")
def reset_command(username: NameArg, password_stdin: PasswordStdinOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Give a user a new password and print it (generated), or read it with --password-stdin.

    The user's open sessions end. Example: leadscore users reset-password alice
    """
    password = _stdin_password() if password_stdin else None
    user, secret = admin.reset_password(username, workspace=workspace, password=password)
    err_console.print(f"new password set for {user.username}; their sessions ended", highlight=False)
    if not password_stdin:
        typer.echo(secret)
