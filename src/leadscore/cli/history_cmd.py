"""``leadscore history CONTACT|COMPANY``: a contact's (or company's) property changes and score
changes, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from leadscore import library
from leadscore.cli.common import JsonOpt, ModelOpt, WorkspaceOpt, console, print_json
from leadscore.cli.main import app


@app.command("history")
def history_command(
    contact_id: Annotated[str, typer.Argument(help="The contact: its id, e-mail, or a value of another id column.")],
    prop: Annotated[str | None, typer.Option("--property", "-p", help="Only this property's changes.")] = None,
    model: ModelOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many rows of each kind.")] = 100,
    level: Annotated[str | None, typer.Option(
        "--level", help="contact or account (default: a company when the id names one and no contact).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every change of a contact's properties (with when it became true and who recorded it) and of its scores.

    A company id shows the company's property changes and account score changes.

    Example: leadscore history c_000042 --property lifecycle_stage
    """
    found = library.history(contact_id, workspace=workspace, prop=prop, model=model, limit=limit, level=level)
    who = "company" if "company_id" in found else "contact"
    if as_json:
        print_json(found)
        return
    changes = found["property_changes"]
    if changes:
        table = Table("changed at", "property", "from", "to", "source", title="property changes")
        for c in changes:
            table.add_row(f"{c['changed_at']:%Y-%m-%d %H:%M:%S}", escape(c["property"]), _shown(c["old_value"]),
                          _shown(c["new_value"]), escape(c["source"]))
        console.print(table)
        console.print("a value before a property's first change is the one first imported, assumed to "
                      f"have held since the {who} was created", style="dim")
    else:
        console.print(f"no recorded property change for {found.get('contact_id') or found['company_id']}"
                      + (f" (property {prop})" if prop else "") + ": its values are the ones first imported",
                      markup=False, highlight=False)
    if prop is None and found["scores"]:
        scores = Table("as of", "model", "score", "tier", "before", title="score changes")
        for s in found["scores"]:
            before = "" if s["prev_score"] is None else f"{s['prev_score']:.1f} {s['prev_tier']}"
            scores.add_row(f"{s['as_of']:%Y-%m-%d %H:%M}", escape(f"{s['model']} v{s['model_version']}"),
                           f"{s['score']:.1f}", escape(s["tier"]), escape(before))
        console.print(scores)


def _shown(value: str | None) -> str:
    return "(empty)" if value is None else escape(value)
