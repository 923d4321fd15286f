"""``leadscore preview DRAFT``: try a draft model on one or two leads or on the whole base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import AsOfOpt, JsonOpt, WorkspaceOpt, console, fmt_points, print_json
from leadscore.cli.main import app


@app.command("preview")
def preview_command(
    draft: Annotated[Path, typer.Argument(help="The draft model file (not yet published).")],
    contact: Annotated[list[str] | None, typer.Option("--contact", "-c", help="Contact id (repeatable).")] = None,
    distribution: Annotated[bool, typer.Option("--distribution", help="Tier counts, draft vs published.")] = False,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score leads with a draft beside the published model, rule by rule; nothing is written.

    Examples: leadscore preview models/draft.yml --contact c_000042 --contact c_000043
              leadscore preview models/draft.yml --distribution
    """
    if not contact and not distribution:
        raise typer.BadParameter("give --contact ID (once or twice) or --distribution")
    if distribution:
        d = library.preview_tiers(draft, workspace=workspace, as_of=as_of)
        if as_json:
            print_json(d.to_dict())
        else:
            table = Table("tier", f"published v{d.published_version}" if d.published_version else "published",
                          "draft", "change")
            for tier in dict.fromkeys([*d.published_counts, *d.draft_counts]):
                p, n = d.published_counts.get(tier, 0), d.draft_counts.get(tier, 0)
                table.add_row(tier, f"{p:,}", f"{n:,}", f"{n - p:+,}")
            console.print(table)
            console.print(f"{d.changed_tier:,} contacts would change tier")
    for cp in library.preview(draft, contact, workspace=workspace, as_of=as_of) if contact else []:
        if as_json:
            print_json(cp.to_dict())
            continue
        pub = cp.published
        console.print(f"[bold]{cp.contact_id}[/]: published "
                      + (f"{pub.total:.2f} ({pub.tier})" if pub else "—")
                      + f" → draft [bold]{cp.draft.total:.2f} ({cp.draft.tier})[/]")
        table = Table("group", "rule", "published", "draft", "Δ")
        for r in cp.rules:
            if r.published or r.draft:
                table.add_row(r.group, r.name, fmt_points(r.published), fmt_points(r.draft),
                              fmt_points(r.delta))
        console.print(table)
