"""``leadscore bench [score|accounts|api|api-large|import|predict|workflows|dashboard|…]``: the benchmarks.

Each subcommand runs one benchmark module and prints its figures (``--json`` for machine-readable
output); the ``make bench*`` targets call these.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.common import JsonOpt, console, print_json
from leadscore.cli.main import app

bench_app = typer.Typer(
    help="Benchmarks on generated or public data, one subcommand each. "
         "Example: leadscore bench score --contacts 100000 --events 2000000",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

SeedOpt = Annotated[int, typer.Option(help="Random seed of the generated data.")]
DirOpt = Annotated[Path | None, typer.Option("--dir", help="Where to build the bench data (default: a temp dir).")]
ContactsOpt = Annotated[int, typer.Option(help="Contacts to generate.", min=1)]
EventsOpt = Annotated[int, typer.Option(help="Events to generate.", min=0)]


@bench_app.command("score")
def score_command(
    contacts: ContactsOpt = 1_000_000,
    events: EventsOpt = 20_000_000,
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    changes: Annotated[float, typer.Option(
        help="Property changes per contact on average in the history (0: none, no as-of figure).", min=0)] = 5.0,
    as_json: JsonOpt = False,
) -> None:
    """`leadscore score` (the library call it makes: hook and settling included) against a
    hand-written DuckDB query computing the same 25-rule model, on generated data.

    Prints both times, events/s, the ratio (limit 1.5), the scoring run's peak RSS (limit 2 GB)
    and whether the two agree to 1e-9; then, with a property history of --changes per contact in
    the store, `leadscore score --as-of` half a year back against scoring now (limit 1.5).
    Example: leadscore bench score --contacts 100000 --events 2000000
    """
    from leadscore.bench.score import format_bench, run_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as tmp:
        with console.status("running the scoring benchmark…", spinner="dots"):
            result = run_bench(directory or Path(tmp), contacts, events, seed, changes_per_contact=changes)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_bench(result))  # fixed-width lines: no wrapping at the terminal's width


@bench_app.command("spark")
def spark_command(
    contacts: ContactsOpt = 1_000_000,
    events: EventsOpt = 20_000_000,
    large_contacts: Annotated[int, typer.Option(help="Then Spark alone at this size (0: skip).", min=0)] = 0,
    large_events: Annotated[int, typer.Option(help="Events of the large size.", min=0)] = 0,
    master: Annotated[str, typer.Option(help="Spark master of the runs.")] = "local[*]",
    driver_memory: Annotated[str, typer.Option(help="spark.driver.memory (local mode: all of Spark).")] = "6g",
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """`leadscore score --engine spark` on local Spark beside DuckDB on the same Parquet files.

    Writes the generated data as a lake, times DuckDB's compiled query over it, then two Spark runs
    (a first scoring and the next day's), and checks Spark's scores against DuckDB's. With
    --large-contacts/--large-events Spark runs a second, larger size too when the disk has room.
    Example: leadscore bench spark --contacts 100000 --events 2000000
    """
    from leadscore.bench.spark import format_bench, run_bench, to_dicts

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-spark-") as tmp:
        with console.status("running the Spark benchmark…", spinner="dots") if not as_json else nullcontext():
            sizes = run_bench(directory or Path(tmp), contacts, events, large_contacts=large_contacts,
                              large_events=large_events, seed=seed, master=master, driver_memory=driver_memory)
    if as_json:
        print_json(to_dicts(sizes))
    else:
        typer.echo(format_bench(sizes))


@bench_app.command("accounts")
def accounts_command(
    contacts: ContactsOpt = 1_000_000,
    events: EventsOpt = 20_000_000,
    companies: Annotated[int, typer.Option(help="Companies the contacts work at.", min=1)] = 100_000,
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An account model (roll-ups, roles, events of all contacts) against the contact model it rolls
    up, each scored as `leadscore score --model` does, on the same generated data (limit 1.5x).

    Example: leadscore bench accounts --contacts 100000 --events 2000000 --companies 10000
    """
    from leadscore.bench.accounts import format_account_bench, run_account_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as tmp:
        with console.status("running the account benchmark…", spinner="dots"):
            result = run_account_bench(directory or Path(tmp), contacts, events, companies, seed)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_account_bench(result))


@bench_app.command("api")
def api_command(
    contacts: ContactsOpt = 100_000,
    events: EventsOpt = 2_000_000,
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    clients: Annotated[int, typer.Option(help="Concurrent clients.", min=1)] = 4,
    seconds: Annotated[float, typer.Option(help="Seconds per concurrent phase.", min=1)] = 10.0,
    batch: Annotated[int, typer.Option(help="Events per batch request.", min=1, max=1000)] = 500,
    as_json: JsonOpt = False,
) -> None:
    """A real `leadscore serve` on a generated workspace under concurrent clients.

    Prints events/s and p50/p99 latency for single events (one client, then C) and batches.
    Example: leadscore bench api --clients 4 --batch 1000
    """
    from leadscore.bench.api import format_api_bench, run_api_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-api-bench-") as tmp:
        with console.status("running the API benchmark…", spinner="dots"):
            result = run_api_bench((directory or Path(tmp)) / "ws", contacts=contacts, events=events,
                                   clients=clients, seconds=seconds, batch=batch, seed=seed)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_api_bench(result))  # a fixed-width table: no wrapping


@bench_app.command("import")
def import_command(
    events: EventsOpt = 2_000_000,
    repeat: Annotated[int, typer.Option(help="Imports of each file, each into a fresh store; the best "
                                             "is reported.", min=1)] = 3,
    directory: DirOpt = None,
) -> None:
    """Events from CSV and Parquet, and a fifth as many contacts from CSV, into fresh stores.

    Prints JSON: seconds, rows/s and CPU seconds of each import, its idempotent re-import, and
    DuckDB's bare insert of the same Parquet file for scale.
    Example: leadscore bench import --events 5000000 --repeat 5
    """
    from leadscore.bench.imports import bench_import

    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as tmp:
        with console.status("running the import benchmark…", spinner="dots"):
            report = bench_import(directory or Path(tmp), events, repeat=repeat)
    print_json(report)


@bench_app.command("predict")
def predict_command(
    quality_only: Annotated[bool, typer.Option("--quality-only", help="Only the held-out quality "
                                               "on Leads.csv.")] = False,
    speed_only: Annotated[bool, typer.Option("--speed-only", help="Only training and prediction "
                                             "speed on generated data.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Predictive scoring: held-out AUC/ECE on the public Leads.csv (5 folds), training on 100k
    contacts / 2M events and predicting 1M contacts.

    Leads.csv is found through $LEADSCORE_SHARED_DATA or a `shared/data` directory above the code.
    Example: leadscore bench predict --quality-only
    """
    from leadscore.bench.predictive import find_leads_csv, format_quality, format_speed, leads_quality, speed

    out: dict[str, object] = {}
    if not speed_only:
        source = find_leads_csv()
        if source is None:
            out["quality"] = None
            if not as_json:
                typer.echo("quality: Leads.csv not found (set LEADSCORE_SHARED_DATA); skipped")
        else:
            with console.status("measuring quality on Leads.csv…", spinner="dots"):
                results = leads_quality(source)
            out["quality"] = results
            if not as_json:
                typer.echo(format_quality(results))
    if not quality_only:
        with console.status("measuring training and prediction speed…", spinner="dots"):
            figures = speed()
        out["speed"] = figures
        if not as_json:
            typer.echo(format_speed(figures))
    if as_json:
        print_json(out)


@bench_app.command("workflows")
def workflows_command(
    contacts: ContactsOpt = 200_000,
    events: EventsOpt = 2_000_000,
    send_limit: Annotated[int, typer.Option(help="Webhooks the worker delivers at most.", min=0)] = 3000,
    as_json: JsonOpt = False,
) -> None:
    """A whole-base run with and without workflows (webhook, task, set, list), then the worker's
    send rate to a local receiver.

    Example: leadscore bench workflows --contacts 1000000 --events 10000000
    """
    from leadscore.bench.workflows import format_workflows_bench, run_workflows_bench

    with console.status("running the workflows benchmark…", spinner="dots"):
        figures = run_workflows_bench(contacts, events, send_limit)
    if as_json:
        print_json(figures)
    else:
        typer.echo(format_workflows_bench(figures))


@bench_app.command("dashboard")
def dashboard_command(
    contacts: ContactsOpt = 1_000_000,
    events: EventsOpt = 20_000_000,
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    rounds: Annotated[int, typer.Option(help="Rounds of requests: each 10 list pages, 6 filtered lists, 6 lead "
                                             "pages and a page number typed into the URL.", min=1)] = 10,
    reuse: Annotated[bool, typer.Option("--reuse", help="Time the workspace already in --dir/ws "
                                                        "instead of building it again (adding predictions "
                                                        "if it has none).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The dashboard's leads list and lead page on a real `leadscore serve` (target: p95 < 300 ms
    at 1M contacts / 20M events), one client, a rep and a marketing user logged in.

    Example: leadscore bench dashboard --dir /tmp/dash   (then --reuse to time it again)
    """
    from leadscore.bench.dashboard import format_dashboard_bench, run_dashboard_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-dashboard-bench-") as tmp:
        target = directory or Path(tmp)
        target.mkdir(parents=True, exist_ok=True)
        with console.status("running the dashboard benchmark…", spinner="dots"):
            result = run_dashboard_bench(target, contacts, events, rounds=rounds, seed=seed,
                                         reuse=reuse and directory is not None)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_dashboard_bench(result))


@bench_app.command("dashboard-accounts")
def dashboard_accounts_command(
    contacts: Annotated[int, typer.Option(help="Contacts of the demo workspace.", min=1)] = 20_000,
    events: Annotated[int, typer.Option(help="Events of the demo workspace.", min=0)] = 500_000,
    seed: SeedOpt = 42,
    directory: DirOpt = None,
    rounds: Annotated[int, typer.Option(help="Rounds of requests: each 8 list pages, 3 filtered lists and 6 "
                                             "account pages.", min=1)] = 10,
    reuse: Annotated[bool, typer.Option("--reuse", help="Time the workspace already in --dir/ws "
                                                        "instead of building it again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The dashboard's accounts list and account page on a real `leadscore serve`, on the demo
    workspace (6,666 companies by default), one client, a rep and a marketing user logged in.

    Example: leadscore bench dashboard-accounts --dir /tmp/acc   (then --reuse to time it again)
    """
    from leadscore.bench.dashboard_accounts import format_accounts_dashboard_bench, run_accounts_dashboard_bench

    with tempfile.TemporaryDirectory(prefix="leadscore-accounts-bench-") as tmp:
        target = directory or Path(tmp)
        target.mkdir(parents=True, exist_ok=True)
        with console.status("running the accounts dashboard benchmark…", spinner="dots"):
            result = run_accounts_dashboard_bench(target, contacts, events, rounds=rounds, seed=seed,
                                                  reuse=reuse and directory is not None)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_accounts_dashboard_bench(result))


@bench_app.command("api-large")
def api_large_command(
    contacts: ContactsOpt = 1_000_000,
    events: EventsOpt = 20_000_000,
    seed: SeedOpt = 7,
    directory: DirOpt = None,
    clients: Annotated[int, typer.Option(help="Clients posting batches.", min=1)] = 4,
    seconds: Annotated[float, typer.Option(help="Seconds of each batch phase.", min=1)] = 10.0,
    batch: Annotated[int, typer.Option(help="Events per batch request.", min=1, max=1000)] = 500,
    singles: Annotated[int, typer.Option(help="Single events of the first phase.", min=1)] = 500,
    events_order: Annotated[str, typer.Option("--events-order", help="How the events are stored: `time` "
                                              "(as imports and the API leave them) or `contact` (as generated).")
                            ] = "time",
    as_json: JsonOpt = False,
) -> None:
    """Real-time rescoring on a large store: a real `leadscore serve` on 1M contacts / 20M events
    with the 25-rule bench model, single events alone, beside batch clients and during a full
    rescoring, then batches alone. Prints p50/p99 and events/s against the targets.

    With --dir the built store is kept there and reused by the next run with the same sizes.
    Example: leadscore bench api-large --dir /tmp/bench-large
    """
    from leadscore.bench.api_large import format_api_large_bench, run_api_large_bench

    if events_order not in ("time", "contact"):
        raise typer.BadParameter("--events-order is `time` or `contact`")
    with tempfile.TemporaryDirectory(prefix="leadscore-api-large-") as tmp:
        with console.status("running the large API benchmark…", spinner="dots"):
            result = run_api_large_bench(directory or Path(tmp), contacts=contacts, events=events,
                                         clients=clients, seconds=seconds, batch=batch, singles=singles,
                                         seed=seed, order="time" if events_order == "time" else "contact")
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_api_large_bench(result))  # a fixed-width table: no wrapping
