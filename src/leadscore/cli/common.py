"""Options and output helpers shared by every command, defined once.

Every command takes ``--workspace`` (default: the current directory or a parent holding
leadscore.yml) and most take ``--json`` for machine-readable output. Errors a user caused are
printed as one clear message and exit with status 2; nothing else is caught.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # never break a file path

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace directory (default: current directory or a parent)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Score as of this date or ISO timestamp (naive = UTC). Default: now."),
]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="duckdb, spark or postgres (default: `engine` in leadscore.yml; docs/engines.md)."),
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name (default: every published model).")]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else, so `leadscore ... --json | jq` works."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        data = dataclasses.asdict(data)
    typer.echo(json.dumps(data, default=_default, indent=2))


def fmt_points(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f}" if value else "0"
