"""``leadscore demo``: a realistic synthetic B2B workspace, imported, scored and explained.

The demo goes through the same doors a user does: it writes CSV and Parquet exports, imports them
with the real importer, publishes the starter model, scores as of the data's end, and explains the
top leads. It is the quickest way to see the whole engine work.

Whether the tiers mean anything is measured the only honest way: by the tiers the model gave
``CONVERSION_DAYS`` before the data's end and the deals won in the days since (deals still open
at the end are not wins yet, and the end's own tiers have no future in the data to check).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.engine.accounts_read import AccountRow, top_accounts
from leadscore.engine.explain import explain_contact
from leadscore.engine.export import TopRow, top_scores
from leadscore.engine.run import RunResult, compiled_sql, publish
from leadscore.errors import LeadscoreError
from leadscore.ingest import import_file
from leadscore.ingest.history import import_history
from leadscore.model.loader import load_model
from leadscore.scoring import score_all
from leadscore.workspace import SETTINGS_FILE, Workspace, init_workspace

if TYPE_CHECKING:
    from leadscore.model.spec import ScoringModel
from leadscore.storage.store import Store

MARKER = ".leadscore-demo"
#: The demo's conversion table: tiers this many days before the data's end, deals won since.
CONVERSION_DAYS = 90


@dataclass
class DemoResult:
    directory: Path
    contacts: int
    events: int
    deals: int
    run: RunResult
    top: list[tuple[TopRow, list[str]]]
    conversion_by_tier: dict[str, tuple[int, int]]  # tier at conversion_as_of -> (contacts, won since)
    seconds: float
    imports: dict[str, float] = field(default_factory=dict)
    conversion_as_of: datetime | None = None
    companies: int = 0
    #: the account model's run and its best companies (the demo's second level)
    account_run: RunResult | None = None
    top_accounts: list[AccountRow] = field(default_factory=list)
    #: filled by ``admin.build_demo``: what predictive training did, and the dashboard's users
    #: (name, generated password, what they see)
    predictive: str | None = None
    users: list[tuple[str, str, str]] = field(default_factory=list)


def build_demo(directory: str | Path, *, contacts: int = 20_000, events: int = 500_000,
               seed: int = 42, history_weeks: int = 0) -> DemoResult:
    """Build (or rebuild) the demo workspace in ``directory`` and score it.

    With ``history_weeks`` it is first scored once a week over that many weeks before the data's
    end, so scores have a history (the dashboard's charts, 7-day changes, tier crossings) and the
    workflows of the crossings have made tasks and queued deliveries.
    """
    from leadscore.demo.generator import generate, write_files

    started = time.perf_counter()
    root = Path(directory).resolve()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise LeadscoreError(
                f"{root} exists and is not a demo workspace; choose an empty or new directory"
            )
        shutil.rmtree(root)
    ws = _matching_by_domain(init_workspace(root, name="demo"))
    (root / MARKER).write_text("built by `leadscore demo`; safe to delete\n")
    (ws.models_dir / "accounts.yml").write_text(example_account_model_text(), encoding="utf-8")
    data = generate(contacts, events, seed=seed)
    files = write_files(data, root / "data")
    imports: dict[str, float] = {}
    with ws.open_store() as store:
        for kind in ("companies", "contacts", "events", "deals"):
            result = import_file(store, kind, files[kind], rejects_dir=ws.rejects_dir)  # type: ignore[arg-type]
            imports[kind] = result.seconds
        # when each lifecycle stage became true: as-of scores then read the stage of their date
        imports["history"] = import_history(store, files["history"], rejects_dir=ws.rejects_dir).seconds
        loaded = load_model(ws.models_dir / "b2b.yml")
        publish(store, loaded, "models/b2b.yml")
        publish(store, load_model(ws.models_dir / "accounts.yml"), "models/accounts.yml")
        for weeks in range(history_weeks, 0, -1):
            score_all(store, as_of=data.as_of - timedelta(weeks=weeks))
        runs = {r.model: r for r in score_all(store, as_of=data.as_of)}
        run, account_run = runs[loaded.model.name], runs.get("accounts")
        best_accounts = top_accounts(store, model="accounts", n=5)
        top = []
        for row in top_scores(store, model=run.model, n=10):
            reasons = explain_contact(store, row.contact_id, model=run.model).reasons(3)
            top.append((row, reasons))
        since = data.as_of - timedelta(days=CONVERSION_DAYS)
        conversion = conversion_since(store, loaded.contact_model, since, data.as_of)
        counts = (store.count("contacts"), store.count("events"), store.count("deals"))
        n_companies = store.count("companies")
    ordered = {t: conversion.get(t, (0, 0)) for t in run.tier_counts}
    return DemoResult(root, *counts, run=run, top=top, conversion_by_tier=ordered,
                      seconds=time.perf_counter() - started, imports=imports, conversion_as_of=since,
                      companies=n_companies, account_run=account_run, top_accounts=best_accounts)


def example_account_model_text() -> str:
    """The demo's account model (``leadscore/data/example_account_model.yml``)."""
    from importlib import resources

    return resources.files("leadscore.data").joinpath("example_account_model.yml").read_text("utf-8")


def _matching_by_domain(ws: Workspace) -> Workspace:
    """The demo's contacts without a company id join the company of their e-mail domain."""
    settings = ws.root / SETTINGS_FILE
    settings.write_text(settings.read_text(encoding="utf-8").replace("match_by_domain: false", "match_by_domain: true"),
                        encoding="utf-8")
    return Workspace.load(ws.root)


def conversion_since(store: Store, model: ScoringModel, since: datetime, until: datetime
                     ) -> dict[str, tuple[int, int]]:
    """Per tier as of ``since``: contacts not yet customers, and those who won a deal by ``until``.

    A small backtest (``leadscore backtest --as-of`` is the full one), run from the compiled query
    without writing scores. Only deals closed in ``[since, until)`` count, so nothing the model
    could not have foreseen, and nothing after the data's end, is credited to it.
    """
    sql = compiled_sql(store, model, since)  # properties as of `since` too, from the history the demo ships
    rows = store.con.execute(
        f"""SELECT s.tier, count(*), count(*) FILTER (WHERE w.won)
            FROM ({sql}) s LEFT JOIN (
                SELECT contact_id, bool_or(closed_at >= $since AND closed_at < $until) AS won,
                       bool_or(closed_at < $since) AS before
                FROM deals WHERE status = 'won' GROUP BY contact_id) w USING (contact_id)
            WHERE NOT coalesce(w.before, false) GROUP BY s.tier""",
        {"since": since, "until": until}).fetchall()
    return {tier: (int(n), int(won)) for tier, n, won in rows}
