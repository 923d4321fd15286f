"""``leadscore demo [DIR]``: build, import, publish, score and explain a synthetic workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.common import JsonOpt, console, print_json
from leadscore.cli.main import app

DASHBOARD_URL = "http://127.0.0.1:8000/"


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Argument(help="Where to build the demo workspace.")] = Path("demo-workspace"),
    contacts: Annotated[int, typer.Option(help="Number of contacts.")] = 20_000,
    events: Annotated[int, typer.Option(help="Number of events.")] = 500_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    history_weeks: Annotated[int, typer.Option(
        help="Score once a week over this many weeks before the data's end first (score history, tier "
             "crossings, the tasks and deliveries their workflows made).", min=0, max=52)] = 8,
    predictive: Annotated[bool, typer.Option(
        "--predictive/--no-predictive", help="Train a predictive model and predict as of the data's end "
                                             "(priorities and reasons in the dashboard).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Build a realistic synthetic B2B workspace, score it, and show who to call first and why.

    It also creates two dashboard users (an admin and a rep) and prints how to open the dashboard.
    Example: leadscore demo demo-workspace && cd demo-workspace && leadscore top --tier sql
    """
    from rich.table import Table

    from leadscore import admin

    with console.status("building the demo workspace…", spinner="dots"):
        result = admin.build_demo(directory, contacts=contacts, events=events, seed=seed, history_weeks=history_weeks,
                                  predictive=predictive)
    if as_json:
        print_json({"directory": result.directory, "contacts": result.contacts, "events": result.events,
                    "deals": result.deals, "tiers": result.run.tier_counts,
                    "conversion_by_tier": result.conversion_by_tier,
                    "conversion_as_of": result.conversion_as_of, "seconds": result.seconds,
                    "top": [{"contact_id": r.contact_id, "score": r.score, "tier": r.tier,
                             "reasons": reasons} for r, reasons in result.top],
                    "companies": result.companies,
                    "account_tiers": result.account_run.tier_counts if result.account_run else None,
                    "top_accounts": result.top_accounts,
                    "predictive": result.predictive,
                    "dashboard": {"command": f"leadscore serve -w {directory} --no-schedule", "url": DASHBOARD_URL,
                                  "users": [{"username": u, "password": p, "role": role}
                                            for u, p, role in result.users]}})
        return
    r = result.run
    console.print(f"[bold]Demo workspace[/] {result.directory}: {result.contacts:,} contacts, "
                  f"{result.events:,} events, {result.deals:,} deals; model [bold]{r.model}[/] "
                  f"v{r.model_version} scored as of {r.as_of:%Y-%m-%d} in {r.seconds:.2f}s")
    then = result.conversion_as_of
    # today's tiers, and the honest check of the tiers: as of `then`, and who won a deal since
    tiers = Table("tier", f"contacts {r.as_of:%Y-%m-%d}", f"contacts {then:%Y-%m-%d}" if then else "before",
                  "won a deal since", "conversion",
                  caption="conversion: tiers as of the earlier date, deals won by the later one "
                          "(leadscore backtest shows more)")
    for tier, n in r.tier_counts.items():
        total, won = result.conversion_by_tier.get(tier, (0, 0))
        tiers.add_row(tier, f"{n:,}", f"{total:,}", f"{won:,}", f"{won / total:.1%}" if total else "—")
    console.print(tiers)
    wide = console.width >= 120  # on a narrow terminal, keep the reasons readable
    top = Table("contact", *(["name"] if wide else []), "title", *(["company"] if wide else []), "score",
                "tier", "why", title="Top 10 leads")
    for row, reasons in result.top:
        cells = [row.contact_id, *([row.name] if wide else []), row.job_title or "",
                 *([row.company or ""] if wide else []), f"{row.score:.1f}", row.tier, "; ".join(reasons)]
        top.add_row(*cells)
    console.print(top)
    if result.account_run is not None and result.top_accounts:
        a = result.account_run
        best = ", ".join(f"{t.name} ({t.score:.0f}, {t.contacts} contacts)" for t in result.top_accounts[:3])
        console.print(f"[bold]Accounts[/]: {result.companies:,} companies scored by [bold]{a.model}[/] "
                      f"({', '.join(f'{n:,} {t}' for t, n in a.tier_counts.items())}); top: {best}",
                      highlight=False)
    first = result.top[0][0].contact_id if result.top else "CONTACT_ID"
    company = result.top_accounts[0].company_id if result.top_accounts else "COMPANY_ID"
    console.print(f"Done in {result.seconds:.1f}s. Try next:")
    for hint in (
        f"cd {directory}",
        f"leadscore explain {first}",
        "leadscore top --tier sql -n 20",
        f"leadscore top --level account ; leadscore explain {company}   # companies, from all their contacts",
        "leadscore compile models/b2b.yml --dialect spark",
        "cp models/b2b.yml models/draft.yml   # edit points, then:",
        f"leadscore preview models/draft.yml --contact {first} ; leadscore preview models/draft.yml --distribution",
        "leadscore score --as-of 2025-10-01 ; leadscore export scores --out scores.csv",
        "leadscore backtest --as-of 2025-10-01 ; leadscore report --as-of 2025-10-01 --out report.html"
        "   # does it predict?",
        "leadscore train ; leadscore predict   # a calibrated likelihood to convert, with reasons",
        "KEY=$(leadscore keys create --scope write) ; leadscore serve   # the HTTP API (docs/api.md)",
    ):
        console.print(f"  {hint}", highlight=False)
    if result.predictive:
        console.print(f"Predictive scoring: {result.predictive}.", highlight=False)
    console.print("[bold]Open the dashboard[/] (docs/dashboard.md):")
    console.print(f"  leadscore serve -w {directory} --no-schedule", highlight=False)
    console.print(f"  then open {DASHBOARD_URL} and log in as", highlight=False)
    for username, password, seen in result.users:
        console.print(f"    {username} / {password}   ({seen})", highlight=False)
    console.print("  (--no-schedule: the demo's data ends on its last day; the hourly rescoring would score it as "
                  "of today, a long quiet time later, and every lead would cool down.)", highlight=False)
