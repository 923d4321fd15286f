"""``leadscore backtest [MODEL|DRAFT.yml]``: score the past and measure it against what happened next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import AsOfOpt, EngineOpt, JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

if TYPE_CHECKING:
    from leadscore.reports.backtest import BacktestResult, Comparison

HorizonOpt = Annotated[str, typer.Option("--horizon", help="Outcome window after the as-of: 90d, 12w.")]
LabelOpt = Annotated[
    str | None,
    typer.Option("--label", help="Contact property that marks a conversion (instead of won deals)."),
]


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def jsonable(data: Any) -> Any:
    """Report objects as plain JSON values (imported on use: the reports package loads numpy)."""
    from leadscore.reports.html import jsonable as _jsonable

    return _jsonable(data)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def render_result(r: BacktestResult) -> None:
    rows = "companies" if r.level == "account" else "contacts"
    outcome = r.outcome + (" of the company" if r.level == "account" else "")
    console.print(
        f"[bold]{r.source}[/] as of {r.as_of:%Y-%m-%d %H:%M}: {r.contacts:,} {rows}, "
        f"{r.converters:,} converted ({pct(r.base_rate)}) — converted = {outcome}")
    if not r.horizon_observed:
        console.print("[yellow]the data ends before the horizon does: conversion is a lower bound[/]")
    table = Table("tier", rows, "converted", "conversion", "avg days to close", "avg deal value")
    for t in reversed(r.tiers):
        table.add_row(t.name, f"{t.contacts:,}", f"{t.converters:,}", pct(t.rate),
                      _num(t.avg_days_to_close, 1), _money(t.avg_deal_value))
    console.print(table)
    console.print(
        f"AUC {_num(r.auc)} · top 10%: lift {_num(r.top10.lift, 2)}, capture {pct(r.top10.capture, 0)} · "
        f"top 20%: lift {_num(r.top20.lift, 2)}, capture {pct(r.top20.capture, 0)} · "
        f"{r.missed:,} converters in the lowest tier · tiers "
        + ("[green]in order[/]" if r.tiers_ordered else "[red]out of order[/]"))


def render_comparison(c: Comparison) -> None:
    a, b = c.a, c.b
    table = Table("", a.source, b.source)
    rows = [("contacts", f"{a.contacts:,}", f"{b.contacts:,}"),
            ("AUC", _num(a.auc), _num(b.auc)),
            ("top-10% lift", _num(a.top10.lift, 2), _num(b.top10.lift, 2)),
            ("top-10% capture", pct(a.top10.capture, 0), pct(b.top10.capture, 0)),
            ("top-20% capture", pct(a.top20.capture, 0), pct(b.top20.capture, 0)),
            ("converters in lowest tier", f"{a.missed:,}", f"{b.missed:,}"),
            ("tiers in order", "yes" if a.tiers_ordered else "no", "yes" if b.tiers_ordered else "no")]
    for t in dict.fromkeys([*(x.name for x in reversed(a.tiers)), *(x.name for x in reversed(b.tiers))]):
        ta = next((x for x in a.tiers if x.name == t), None)
        tb = next((x for x in b.tiers if x.name == t), None)
        rows.append((f"{t}: contacts / conversion",
                     f"{ta.contacts:,} / {pct(ta.rate)}" if ta else "—",
                     f"{tb.contacts:,} / {pct(tb.rate)}" if tb else "—"))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    m = c.moves
    verdict = ""
    if m.up_rate is not None and m.down_rate is not None:
        verdict = (" — the moves go the right way" if m.up_rate > m.down_rate
                   else " — [red]the moves go the wrong way[/]")
    console.print(
        f"{m.changed:,} contacts change tier: {m.up:,} up ({pct(m.up_rate)} of them converted), "
        f"{m.down:,} down ({pct(m.down_rate)} converted){verdict}; {m.right_way:,} moves were individually "
        "right (up and converted, or down and did not)")


def render_rolling(results: list[BacktestResult]) -> None:
    table = Table("as of", "contacts", "converted", "AUC", "top-10% lift", "top-20% capture", "tiers in order")
    for r in results:
        table.add_row(f"{r.as_of:%Y-%m-%d}", f"{r.contacts:,}", f"{r.converters:,}", _num(r.auc),
                      _num(r.top10.lift, 2), pct(r.top20.capture, 0), "yes" if r.tiers_ordered else "no")
    console.print(table)


@app.command("backtest")
def backtest_command(
    model: Annotated[str | None, typer.Argument(
        help="Published model name or draft file (default: the only published model).")] = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = "90d",
    vs: Annotated[str | None, typer.Option("--vs", help="Another model or draft to compare with.")] = None,
    rolling: Annotated[int, typer.Option("--rolling", help="Repeat at this many as-of dates ending at --as-of.")] = 0,
    step: Annotated[str, typer.Option("--step", help="Days between rolling dates: 30d, 4w.")] = "30d",
    label: LabelOpt = None,
    engine: EngineOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score contacts as they were at a past date (nothing is written) and check who converted next.

    With --engine spark or postgres the model runs there, over the lake's or the database's data.

    Example: leadscore backtest models/draft.yml --as-of 2025-10-01 --horizon 90d --vs b2b
             leadscore backtest b2b --as-of 2025-10-01 --rolling 12 --step 30d
             leadscore backtest xed --label Converted     (no deals: a contact property is the outcome)
    """
    run = library.backtest(model, workspace=workspace, as_of=as_of, horizon=horizon, vs=vs, label=label,
                           rolling=rolling, step=step, engine=engine)
    if as_json:
        print_json(jsonable(run.to_dict()))
        return
    if run.comparison is not None:
        render_result(run.comparison.a)
        render_result(run.comparison.b)
        render_comparison(run.comparison)
    else:
        render_result(run.result)
    if run.rolling:
        render_rolling(run.rolling)
