"""``leadscore worker``: deliver queued webhooks and e-mails, outside ``leadscore serve``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json
from leadscore.cli.main import app


@app.command("worker")
def worker_command(
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between looks at the outbox.")] = 1.0,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Stop once nothing is due (for cron).")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send the webhooks and e-mails workflows queued, retrying failures until they are dead letters.

    Runs until Ctrl-C or SIGTERM (finishing the sends in flight). It holds the store only while
    actions are due, so `leadscore score` can run from cron beside it. `leadscore serve` runs the
    same worker itself: use this command only without the server.

    Example: leadscore worker --until-idle
    """
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not as_json:
            console.print("worker started; Ctrl-C to stop" if not until_idle else "delivering what is due…")
        total = library.run_worker(
            workspace=workspace, stop=stop, poll_seconds=poll, until_idle=until_idle,
            on_round=None if as_json else lambda n: console.print(f"attempted {n} deliveries"),
            on_busy=lambda why: err_console.print(f"waiting: {why}", highlight=False),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        print_json({"attempted": total})
    else:
        console.print(f"stopped after {total} attempts")
