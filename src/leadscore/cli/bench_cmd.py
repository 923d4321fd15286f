"""``leadscore bench``: time scoring against a hand-written DuckDB query on generated data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.common import JsonOpt, console, print_json
from leadscore.cli.main import app


@app.command("bench")
def bench_command(
    contacts: Annotated[int, typer.Option(help="Contacts to generate.")] = 1_000_000,
    events: Annotated[int, typer.Option(help="Events to generate.")] = 20_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to put the bench store (default: a temp dir).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate N contacts / M events, run a 25-rule model and the equivalent hand-written query.

    Prints both times, events/s, the ratio and the scoring run's peak RSS.
    Example: leadscore bench --contacts 100000 --events 2000000
    """
    from leadscore.demo.bench import format_bench, run_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as tmp:
        target = directory or Path(tmp)
        with console.status("running the benchmark…", spinner="dots"):
            result = run_bench(target, contacts, events, seed)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(format_bench(result), highlight=False)
