"""``leadscore explain CONTACT``: every rule behind a score, with the events that matched."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import AsOfOpt, JsonOpt, ModelOpt, WorkspaceOpt, console, fmt_points, print_json
from leadscore.cli.main import app

if TYPE_CHECKING:
    from leadscore.engine.explain import Explanation
    from leadscore.engine.explain_accounts import AccountExplanation


def render_explanation(e: Explanation, *, show_events: bool = True, show_assumed: bool = False) -> None:
    console.print(
        f"[bold]{e.contact_id}[/] — model [bold]{e.model}[/]"
        + (f" v{e.model_version}" if e.model_version else " (draft)")
        + f" as of {e.as_of:%Y-%m-%d %H:%M}: total [bold]{e.total:.2f}[/], tier [bold]{e.tier}[/]"
        + (f", grade {e.grade}" if e.grade else "")
    )
    table = Table("group", "rule", "fired", "matches", "raw", "points", "decay")
    for r in e.rules:
        table.add_row(r.group, r.name, "yes" if r.fired else "", "" if r.count is None else str(r.count),
                      fmt_points(r.raw if r.fired else 0), fmt_points(r.points),
                      f"{-r.decayed_by:+.2f}" if r.fired and abs(r.decayed_by) > 1e-9 else "")
    console.print(table)
    groups = Table("group", "rules sum", "cap/floor", "points")
    for g in e.groups:
        bounds = _bounds(g.floor, g.cap)
        groups.add_row(g.name, f"{g.rules_sum:.2f}", bounds + (" [yellow]cut[/]" if g.clamped else ""),
                       f"{g.points:.2f}")
    groups.add_row("total", f"{e.groups_sum:.2f}", "", f"[bold]{e.total:.2f}[/]")
    console.print(groups)
    if e.stored_score is not None and abs(e.stored_score - e.total) > 1e-9:
        console.print(f"[yellow]stored score is {e.stored_score:.2f} (as of {e.stored_as_of}); "
                      "rescore to update it[/]")
    if e.prediction is not None:
        render_prediction(e)
    if e.company is not None:
        scores = ", ".join(f"{s['model']} {s['score']:.1f} ({s['tier']})" for s in e.company.scores) or "not scored yet"
        console.print(f"company [bold]{e.company.name or e.company.company_id}[/] ({e.company.company_id}): {scores}",
                      highlight=False)
    if show_assumed:
        render_assumed(e)
    if show_events:
        for r in e.rules:
            if r.fired and r.matched_events:
                shown = ", ".join(
                    f"{ev.get('type')} {ev.get('occurred_at'):%Y-%m-%d}"
                    + (f" {ev['url']}" if ev.get("url") else "") for ev in r.matched_events[:5])
                console.print(f"  {r.name}: {shown}" + (" …" if len(r.matched_events) > 5 else ""),
                              highlight=False)


def render_assumed(e: Explanation) -> None:
    """Rules that read a value the history cannot date: the one first imported, *assumed* to have
    held since the contact was created (it may have been filled in later, after the outcome)."""
    lines = [f"  {r.name}: " + ", ".join(f"{p} = {v!r}" for p, v in r.assumed.items())
             for r in e.rules if r.assumed]
    if not lines:
        console.print(f"every property the rules read as of {e.as_of:%Y-%m-%d %H:%M} comes from a dated change")
        return
    console.print(f"[yellow]assumed values[/] (no recorded change at or before {e.as_of:%Y-%m-%d %H:%M}: "
                  "the value first imported, taken to hold since the contact was created):", highlight=False)
    for line in lines:
        console.print(line, highlight=False)


def render_prediction(e: Explanation) -> None:
    """The predictive part beside the rule part: tier and priority side by side, then the reasons."""
    p = e.prediction
    assert p is not None
    console.print(
        f"rule tier [bold]{e.tier}[/] ({e.total:.1f} points) | predicted priority [bold]{p.priority}[/]: "
        f"{p.probability:.1%} likely to convert ({p.model} v{p.model_version}, as of {p.as_of:%Y-%m-%d %H:%M})"
        + (f" | blended score [bold]{p.blended:.1f}[/]" if p.blended is not None else ""), highlight=False)
    for text in p.positive:
        console.print(f"  [green]+[/] {text}", highlight=False)
    for text in p.negative:
        console.print(f"  [red]−[/] {text}", highlight=False)


def render_account_explanation(e: AccountExplanation, *, show_events: bool = True) -> None:
    """A company's score: rules with the contacts behind them, groups, then its contacts."""
    console.print(
        f"[bold]{e.name or e.company_id}[/] ({e.company_id}) — account model [bold]{e.model}[/]"
        + (f" v{e.model_version}" if e.model_version else " (draft)")
        + f" as of {e.as_of:%Y-%m-%d %H:%M}: total [bold]{e.total:.2f}[/], tier [bold]{e.tier}[/]"
        + (f", grade {e.grade}" if e.grade else ""), highlight=False)
    table = Table("group", "rule", "fired", "count", "raw", "points", "contacts")
    for r in e.rules:
        who = ", ".join(c["name"] for c in r.contacts[:3]) + (f" +{len(r.contacts) - 3}" if len(r.contacts) > 3 else "")
        table.add_row(r.group, r.name, "yes" if r.fired else "", "" if r.count is None else str(r.count),
                      fmt_points(r.raw if r.fired else 0), fmt_points(r.points), who)
    console.print(table)
    for p in e.predictions:  # beside the rule tier, as a contact's explain shows its priority
        console.print(
            f"rule tier [bold]{e.tier}[/] ({e.total:.1f} points) | predicted priority [bold]{p['priority']}[/]: "
            f"{p['probability']:.1%} likely to win a deal ({p['model']} v{p['model_version']}, as of "
            f"{p['as_of']:%Y-%m-%d %H:%M})", highlight=False)
        for text in p["positive"]:
            console.print(f"  [green]+[/] {text}", highlight=False)
        for text in p["negative"]:
            console.print(f"  [red]−[/] {text}", highlight=False)
    groups = Table("group", "rules sum", "cap/floor", "points")
    for g in e.groups:
        groups.add_row(g.name, f"{g.rules_sum:.2f}", _bounds(g.floor, g.cap) + (" [yellow]cut[/]" if g.clamped else ""),
                       f"{g.points:.2f}")
    groups.add_row("total", f"{e.groups_sum:.2f}", "", f"[bold]{e.total:.2f}[/]")
    console.print(groups)
    if e.stored_score is not None and abs(e.stored_score - e.total) > 1e-9:
        console.print(f"[yellow]stored score is {e.stored_score:.2f} (as of {e.stored_as_of}); rescore to update it[/]")
    if show_events:
        for r in e.rules:
            if r.fired and r.matched_events:
                shown = ", ".join(f"{ev.get('contact_id')} {ev.get('type')} {ev.get('occurred_at'):%Y-%m-%d}"
                                  + (f" {ev['url']}" if ev.get("url") else "") for ev in r.matched_events[:5])
                console.print(f"  {r.name}: {shown}" + (" …" if len(r.matched_events) > 5 else ""), highlight=False)
            elif r.fired and any("value" in c for c in r.contacts):
                shown = ", ".join(f"{c['name']} {c['value']:.1f}" for c in r.contacts[:5])
                console.print(f"  {r.name}: {shown}" + (" …" if len(r.contacts) > 5 else ""), highlight=False)
    people = Table("contact", "name", "title", "scores")
    for c in e.contacts:
        people.add_row(c["contact_id"], c["name"], c.get("title") or "",
                       ", ".join(f"{m} {s['score']:.1f} ({s['tier']})" for m, s in c["scores"].items()))
    console.print(f"{len(e.contacts)} contacts as of {e.as_of:%Y-%m-%d}:")
    console.print(people)


class Level(StrEnum):
    contact = "contact"
    account = "account"


@app.command("explain")
def explain_command(
    contact_id: Annotated[str, typer.Argument(help="The contact (or company) to explain.")],
    model: ModelOpt = None,
    as_of: AsOfOpt = None,
    level: Annotated[Level | None, typer.Option(
        "--level", help="contact or account (default: a company when the id names a company and no "
                        "contact, or when --model is an account model).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every rule that fired, its raw and decayed points, matched events, caps, total and tier.

    With --as-of, a contact's properties are read as of that date from their history, and the rules
    that read a value the history cannot date (the first imported one, assumed since created_at)
    say so. A company's explanation goes down to the contacts and events behind each rule.

    Example: leadscore explain c_000042 --model b2b

    Example: leadscore explain c_000042 --as-of 2025-03-31

    Example: leadscore explain k_0042 --level account
    """
    from leadscore.engine.explain_accounts import AccountExplanation

    e = library.explain(contact_id, workspace=workspace, model=model, as_of=as_of,
                        level=level.value if level else None)
    if as_json:
        print_json(e.to_dict())
        return
    if isinstance(e, AccountExplanation):
        render_account_explanation(e)
    else:
        render_explanation(e, show_assumed=as_of is not None)


def _bounds(floor: float | None, cap: float | None) -> str:
    """``cap 50``, ``floor -10``, ``-10 to 50`` or nothing: how a group's points are clamped."""
    if floor is None and cap is None:
        return ""
    if floor is None:
        return f"cap {cap:g}"
    if cap is None:
        return f"floor {floor:g}"
    return f"{floor:g} to {cap:g}"
