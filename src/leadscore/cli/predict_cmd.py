"""``leadscore predict``: probability, priority bucket and top factors for every contact."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated

import typer

from leadscore import library
from leadscore.cli.common import AsOfOpt, JsonOpt, WorkspaceOpt, console, err_console, print_json
from leadscore.cli.main import app

if TYPE_CHECKING:  # the predictive stack (numpy, pyarrow) loads only when a command needs it
    from leadscore.predictive.predict import PredictResult


@app.command("predict")
def predict_command(
    as_of: AsOfOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Predictive model name (default: likelihood).")] = None,
    top: Annotated[int, typer.Option("--top", help="Show this many leads with the highest probability.")] = 5,
    level: Annotated[str, typer.Option(
        "--level", help="contact, or account: every company with the latest model of companies.")] = "contact",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict every contact with the latest trained model; warn when the leads have drifted from training.

    Example: leadscore predict --as-of 2025-06-30   (contacts as they were then: an honest backtest)
    Example: leadscore predict --level account   (companies: `explain COMPANY`, `top --level account` show it)
    """
    with console.status("predicting…", spinner="dots") if not as_json else nullcontext():
        result = library.predict(workspace=workspace, name=name, as_of=as_of, top=0 if as_json else top,
                                 level=level)
    if as_json:
        print_json(result)
        return
    print_predicted(result)
    if result.top:
        from rich.table import Table

        table = Table("company" if result.level == "account" else "contact", "probability", "priority", "why")
        for row in result.top:
            table.add_row(row.contact_id, f"{row.probability:.1%}", row.priority, "; ".join(row.reasons))
        console.print(table)


def print_predicted(result: PredictResult | None) -> None:
    if result is not None:
        print_prediction_summary(result.model, result.model_version, result.contacts, result.seconds,
                                 result.priority_counts, result.mean_probability, result.psi, result.warnings,
                                 "companies" if result.level == "account" else "contacts")


def print_prediction_summary(model: str, version: int, contacts: int, seconds: float, counts: dict[str, int],
                             mean: float, psi: float, warnings: list[str], what: str = "contacts") -> None:
    console.print(f"[bold]{model}[/] v{version}: {contacts:,} {what} predicted in {seconds:.2f}s, mean "
                  f"probability {mean:.1%}, PSI {psi:.2f}; priority " + ", ".join(
                      f"{k} {v:,}" for k, v in counts.items()), highlight=False)
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
