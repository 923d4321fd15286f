"""``leadscore keys create|list|revoke``: API keys for ``leadscore serve``.

The store is locked while a server runs; then use the admin endpoints ``/v1/keys`` instead.
"""

from __future__ import annotations

from typing import Annotated

import typer

from leadscore import admin
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

keys_app = typer.Typer(help="API keys: create, list, revoke. Example: leadscore keys create --scope write",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create_command(
    scope: Annotated[str, typer.Option(help="read, write (events, contacts) or admin (rescoring, keys).")],
    name: Annotated[str | None, typer.Option(help="What the key is for, shown by `keys list`.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create an API key and print only the key, so a script can capture it.

    The key is shown once; the store keeps its SHA-256.
    Example: KEY=$(leadscore keys create --scope write --name segment)
    """
    _key, secret = admin.create_key(scope, name, workspace=workspace)
    typer.echo(secret)


@keys_app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List keys by id (their first characters), scope, name, creation, last use and revocation.

    Example: leadscore keys list --json
    """
    from rich.table import Table

    keys = admin.keys(workspace=workspace)
    if as_json:
        print_json(keys)
        return
    table = Table("id", "scope", "name", "created", "last used", "revoked")
    for k in keys:
        table.add_row(k.key_id, k.scope, k.name or "", f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    console.print(table)


@keys_app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke a key: requests with it get 401 from then on.

    Example: leadscore keys revoke lsk_Ab12Cd34
    """
    key = admin.revoke_key(key_id, workspace=workspace)
    console.print(f"revoked {key.key_id} ({key.scope}{', ' + key.name if key.name else ''})", highlight=False)
