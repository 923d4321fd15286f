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
    api: Annotated[bool, typer.Option("--api", help="Bench the HTTP API instead (see leadscore.api.bench): "
                                      "a real server, concurrent clients; default 100k contacts / 2M events.")] = False,
    clients: Annotated[int, typer.Option(help="--api: concurrent clients.", min=1)] = 4,
    seconds: Annotated[float, typer.Option(help="--api: seconds per concurrent phase.", min=1)] = 10.0,
    batch: Annotated[int, typer.Option(help="--api: events per batch request.", min=1, max=1000)] = 500,
) -> None:
    """Generate N contacts / M events, run a 25-rule model and the equivalent hand-written query.

    Prints both times, events/s, the ratio and the scoring run's peak RSS. With --api: start
    `leadscore serve` on a generated workspace and print events/s and p50/p99 latency for single
    events and batches.
    Example: leadscore bench --contacts 100000 --events 2000000
    Example: leadscore bench --api --clients 4 --batch 500
    """
    if api:
        _bench_api(contacts, events, seed, directory, as_json, clients, seconds, batch)
        return
    from leadscore.demo.bench import format_bench, run_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as tmp:
        target = directory or Path(tmp)
        with console.status("running the benchmark…", spinner="dots"):
            result = run_bench(target, contacts, events, seed)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(format_bench(result), highlight=False)


def _bench_api(contacts: int, events: int, seed: int, directory: Path | None, as_json: bool, clients: int,
               seconds: float, batch: int) -> None:
    from leadscore.api.bench import format_api_bench, run_api_bench

    # the score bench's 1M / 20M defaults would spend minutes generating; the API bench needs less
    contacts = 100_000 if contacts == 1_000_000 else contacts
    events = 2_000_000 if events == 20_000_000 else events
    with tempfile.TemporaryDirectory(prefix="leadscore-api-bench-") as tmp:
        target = directory or Path(tmp) / "ws"
        with console.status("running the API benchmark…", spinner="dots"):
            result = run_api_bench(target, contacts=contacts, events=events, clients=clients, seconds=seconds,
                                   batch=batch, seed=seed)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_api_bench(result))  # a fixed-width table: no wrapping
