"""``leadscore report`` (one offline HTML file) and ``leadscore audit`` (the same audits, in the terminal)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.backtest_cmd import HorizonOpt, LabelOpt, jsonable, pct, render_result
from leadscore.cli.common import AsOfOpt, EngineOpt, JsonOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app

if TYPE_CHECKING:
    from leadscore.reports.build import Report

ModelArg = Annotated[str | None, typer.Option(
    "--model", "-m", help="Model name or draft file (default: the only published one).")]
CapacityOpt = Annotated[int | None, typer.Option(
    "--capacity", help="Leads sales can call per week (suggests a threshold).")]
PrecisionOpt = Annotated[float | None, typer.Option(
    "--precision", help="Target share of top-tier leads that convert, 0-1 (default: the top tier's current rate).")]
StuckOpt = Annotated[int, typer.Option("--stuck-days", help="A lead is stuck after this many days in a middle tier.")]


def render_audit(r: Report) -> None:
    table = Table("group", "rule", "points", "fires on", "conv. fired", "not fired", "lift", "flags")
    for x in r.rules:
        table.add_row(x.group, x.rule, x.points, pct(x.fire_rate), pct(x.rate_fired), pct(x.rate_not_fired),
                      "—" if x.lift is None else f"{x.lift:.2f}", "; ".join(x.flags))
    console.print(table)
    table = Table("threshold", "score ≥", "leads", "converted", "precision", "share of converters")
    for t in r.thresholds:
        table.add_row(t.reason, f"{t.score:.1f}", f"{t.contacts:,}", f"{t.converters:,}", pct(t.precision),
                      pct(t.recall))
    console.print(table)
    table = Table("decile", "contacts", "converted", "conversion", "scores")
    for d in r.deciles:
        scores = f"{d.min_score:.1f} … {d.max_score:.1f}" if d.contacts else ""
        table.add_row(d.name, f"{d.contacts:,}", f"{d.converters:,}", pct(d.rate), scores)
    console.print(table)
    render_feedback(r)


def render_feedback(r: Report) -> None:
    """Feedback from reps: share by tier, and the rules firing far more often on disputed leads."""
    fb = r.feedback
    if fb is None or not fb.total:
        return
    table = Table("tier (when given)", "leads", "share", "too high", "too low", "right",
                  title=f"Feedback from reps on {fb.total:,} leads")
    for tier, v in fb.by_tier.items():
        n = sum(v.values())
        table.add_row(tier, f"{n:,}", pct(n / fb.total), str(v.get("too_high", 0)), str(v.get("too_low", 0)),
                      str(v.get("right", 0)))
    console.print(table)
    if fb.flagged:
        table = Table("rule", "points", "leads called", "fires on them", "on the rest", "z",
                      title="Rules firing far more often on disputed leads")
        for x in fb.flagged:
            called = "over-scored" if x.direction == "too_high" else "under-scored"
            table.add_row(f"{x.group} / {x.rule}", x.points, f"{called} ({x.disputed})", pct(x.rate_disputed),
                          pct(x.rate_rest), "—" if x.z is None else f"{x.z:.1f}")
        console.print(table)


def render_findings(r: Report) -> None:
    console.print("[bold]Findings[/]")
    for f in r.findings:
        console.print(f"  • {f}", highlight=False)


@app.command("report")
def report_command(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="HTML file to write (default report.html; with --json only if given).")] = None,
    model: ModelArg = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = "90d",
    label: LabelOpt = None,
    rolling: Annotated[int, typer.Option("--rolling", help="As-of dates in the stability chart (1 = none).")] = 4,
    step: Annotated[str, typer.Option("--step", help="Days between rolling dates.")] = "30d",
    capacity: CapacityOpt = None,
    precision: PrecisionOpt = None,
    stuck_days: StuckOpt = 30,
    engine: EngineOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report (works offline): backtest, rule impact, thresholds, findings.

    With --engine spark or postgres the model runs there and the stored scores are the engine's.

    Example: leadscore report --out report.html --as-of 2025-10-01 --capacity 200
             leadscore report --json | jq .findings
    """
    target = out if out is not None or as_json else Path("report.html")
    with console.status("building the report…", spinner="dots") if not as_json else nullcontext():
        r = library.report(workspace=workspace, model=model, as_of=as_of, horizon=horizon, label=label,
                           out=target, rolling=rolling, step=step, stuck_days=stuck_days,
                           precision=precision, capacity=capacity, engine=engine)
    if as_json:
        print_json(jsonable(r.to_dict()))
        return
    render_result(r.backtest)
    render_findings(r)
    console.print(f"wrote [bold]{target}[/] (open it in a browser; it needs no network)")


@app.command("audit")
def audit_command(
    model: Annotated[str | None, typer.Argument(help="Published model name or draft file.")] = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = "90d",
    label: LabelOpt = None,
    capacity: CapacityOpt = None,
    precision: PrecisionOpt = None,
    stuck_days: StuckOpt = 30,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rule impact (fire rate, conversion, lift, flags), thresholds and deciles, with findings.

    Example: leadscore audit b2b --as-of 2025-10-01 --capacity 200
    """
    r = library.report(workspace=workspace, model=model, as_of=as_of, horizon=horizon, label=label,
                       rolling=1, stuck_days=stuck_days, precision=precision, capacity=capacity)
    if as_json:
        print_json(jsonable({"backtest": r.backtest, "rules": r.rules, "thresholds": r.thresholds,
                             "deciles": r.deciles, "stuck": r.stuck, "findings": r.findings}))
        return
    render_result(r.backtest)
    render_audit(r)
    render_findings(r)

