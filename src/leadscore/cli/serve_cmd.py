"""``leadscore serve``: the HTTP API (and the workflows worker and rescoring schedule) on a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from leadscore.cli.common import WorkspaceOpt, err_console
from leadscore.cli.main import app


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    worker: Annotated[bool, typer.Option("--worker/--no-worker",
                                         help="Deliver workflow actions in this process.")] = True,
    schedule: Annotated[bool, typer.Option("--schedule/--no-schedule",
                                           help="Rescore everyone on server.rescore_every_minutes.")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the REST API: events in, scores out, OpenAPI docs at /docs, metrics at /metrics.

    Every accepted event or property change rescores its contact in the same transaction. Stop
    with Ctrl-C or SIGTERM (in-flight requests finish, the store is closed cleanly).
    Example: leadscore serve --port 8000   # then: curl localhost:8000/healthz
    """
    from leadscore import admin

    admin.serve(workspace=workspace, host=host, port=port, worker=worker, scheduler=schedule, log_level=log_level,
                on_start=lambda root, url: err_console.print(f"serving {root} on {url} (docs at /docs)",
                                                             highlight=False))
