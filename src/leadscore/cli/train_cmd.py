"""``leadscore train``: learn a calibrated likelihood to convert from the workspace's history."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Any

import typer
from rich.table import Table

from leadscore import library
from leadscore.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json
from leadscore.cli.main import app

#: What each metric means, in a marketer's words (also in docs/predictive.md).
METRIC_HELP: dict[str, str] = {
    "auc": "chance a converter is ranked above a non-converter (0.5 = coin toss, 1 = perfect)",
    "average_precision": "how clean the top of the list is (compare with the base rate)",
    "top_decile_lift": "the top 10% convert this many times more often than average",
    "ece": "average gap between predicted and actual conversion rates (lower is better)",
    "base_rate": "share of validation leads (companies, for a model of companies) that converted",
    "positives": "converters among the validation leads (or companies)",
    "positives_total": "contacts (or companies) that converted in all the training data",
}


def render_metrics(metrics: dict[str, Any]) -> None:
    table = Table("metric", "value", "what it means")
    for key, meaning in METRIC_HELP.items():
        value = metrics.get(key)
        if value is None:
            continue
        shown = f"{value:.1%}" if key == "base_rate" else (f"{int(value):,}" if "positives" in key
                                                           else f"{value:.3f}")
        table.add_row(key, shown, meaning)
    console.print(table)
    top = metrics.get("top_features") or []
    if top:
        console.print("most important features: " + ", ".join(f"{name} ({share:.0%})" for name, share in top[:8]),
                      highlight=False)


@app.command("train")
def train_command(
    label: Annotated[str, typer.Option(help="`won` (a deal won within the horizon after each cut-off) or a "
                                            "yes/no contact property such as `converted`.")] = "won",
    horizon: Annotated[str, typer.Option(help="How far after a cut-off a win counts, e.g. 90d or 12w.")] = "90d",
    cutoffs: Annotated[list[str] | None, typer.Option(
        "--cutoffs", help="Cut-off dates (repeat or comma-separate); older ones train, the newest validates; "
                          "one alone gives a random 80/20 split. Default: chosen from the data.")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", "--as-of",
        help="Use only what was known at this moment (default: the store's latest event or deal).")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="Predictive model name (default: likelihood; account_likelihood with --level account).")] = None,
    level: Annotated[str, typer.Option(
        "--level", help="contact (rows are contacts) or account (rows are companies; label: a deal of the company "
                        "won within the horizon, or a yes/no company property).")] = "contact",
    seed: Annotated[int, typer.Option(help="Random seed: same data and seed, same model.")] = 42,
    min_positives: Annotated[int | None, typer.Option(
        "--min-positives", help="Refuse below this many converted contacts (default 100).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="A contact column (a company column with --level account) to leave out of the "
                          "features, named as in your file (`Lead Quality`) or as imported (`lead_quality`); "
                          "repeatable.")] = None,
    accept_leaky: Annotated[bool, typer.Option(
        "--accept-leaky", help="Train even when a column looks written after the outcome (the model's card "
                               "records the warning).")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a predictive model (LightGBM or logistic regression, calibrated) and store it as a new version.

    Example: leadscore train --horizon 90d --until 2025-12-31
    Example: leadscore train --label converted     (a yes/no property, e.g. from a CRM export)
    Example: leadscore train --label Converted --exclude Tags --exclude "Lead Quality"
    Example: leadscore train --level account --horizon 90d   (companies: a won deal of the company)

    Training stops when one column alone separates converters (AUC ≥ 0.95) or the held-out AUC is
    0.97 or more: such a column was most likely filled in after the sale. Leave it out with
    --exclude, or keep it knowingly with --accept-leaky.
    """
    dates = [d.strip() for item in cutoffs or [] for d in item.split(",") if d.strip()]
    with console.status("training…", spinner="dots") if not as_json else nullcontext():
        result = library.train(workspace=workspace, name=name, label=label, horizon=horizon,
                               cutoffs=list(dates) or None, until=until, seed=seed, min_positives=min_positives,
                               exclude=exclude, accept_leaky=accept_leaky, level=level)
    m = result.model
    if as_json:
        print_json({"name": m.name, "version": m.version, "level": m.level, "label": m.label,
                    "horizon_days": m.horizon_days,
                    "data_until": m.data_until, "cutoffs": m.cutoffs, "learner": m.learner_kind,
                    "calibration": m.calibrator.method, "metrics": m.metrics, "seconds": result.seconds})
        return
    window = ", ".join(f"{c:%Y-%m-%d}" for c in m.cutoffs)
    console.print(
        f"trained [bold]{m.name}[/] v{m.version}: {m.learner_kind} with {m.calibrator.method} calibration, "
        f"label {m.label}" + (f" within {m.horizon_days} days" if m.horizon_days else "")
        + f", cut-offs {window}, validation: {m.metrics['validation']} ({result.seconds:.1f}s)", highlight=False)
    render_metrics(m.metrics)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if m.level == "account":
        console.print("next: `leadscore predict --level account` writes probability, priority and reasons for "
                      "every company")
    else:
        console.print("next: `leadscore predict` writes probability, priority and reasons for every contact")
