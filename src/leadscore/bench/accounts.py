"""``leadscore bench accounts`` (part of ``make bench``): an account model against its contact model.

The requirement: over 100k companies / 1M contacts / 20M events, scoring an account model takes at
most 1.5× scoring the contact model it rolls up, on the same data. ``run_account_bench``

1. builds a workspace from the generated data (``demo.generator`` with ``n_companies`` companies,
   contacts spread over them, ~20% found by their e-mail domain) and publishes the bench contact
   model (``score_model.BENCH_MODEL_YAML``, 25 rules) and ``BENCH_ACCOUNT_MODEL_YAML``, which rolls
   it up (top-k mean weighted by role, a group sum, counts by role and by tier) and adds company
   properties and the events of all contacts together (distinct-contact counts, decay, inactivity);
2. times what ``leadscore score --model NAME`` runs (``library.score``) for each model in a child
   process (``score_run``, which also reads that run's peak RSS), each run a first run, best of
   ``runs`` for each, alternating the two so machine noise falls on both.

The account query computes the contact model's rules for every member inside itself (it never
reads stored scores), so its cost is the contact model's plus the per-company step; it writes
one row per company instead of one per contact. Its numbers are held to the reference scorer by
tests/test_differential_accounts.py; here only the count of companies scored is checked.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from leadscore import library
from leadscore.bench.measure import per_second
from leadscore.bench.score import _forget_scores, _run_child
from leadscore.bench.score_model import BENCH_MODEL_YAML
from leadscore.demo.generator import generate, load_into_store
from leadscore.workspace import SETTINGS_FILE, Workspace, init_workspace

__all__ = ["BENCH_ACCOUNT_MODEL_YAML", "AccountBenchResult", "format_account_bench", "run_account_bench"]

MAX_RATIO = 1.5

BENCH_ACCOUNT_MODEL_YAML = """\
version: 1
name: bench_accounts
level: account
description: the `leadscore bench accounts` model, rolling up `bench`
tiers: {cold: 0, warm: 25, sales_ready: 50}
roles:
  decision_maker: {property: job_title, in: [CEO, CMO, VP Sales, VP Marketing, Head of Marketing]}
groups:
  fit:
    cap: 30
    rules:
      - {name: mid-market, when: {property: employees, between: [50, 5000]}, points: 10}
      - {name: target industry, when: {property: industry, in: [SaaS, Fintech]}, points: 10}
  people:
    cap: 40
    rules:
      - name: best three
        points_from: {model: bench, aggregate: top_k_mean, k: 3, weights: {decision_maker: 1.5}}
        factor: 0.4
        max: 30
      - {name: engagement sum, points_from: {model: bench, aggregate: sum, group: engagement}, factor: 0.05, max: 10}
      - {name: buying group, when: {contacts: {role: decision_maker}, at_least: 2}, points: 5}
      - {name: 2+ warm people, when: {contacts: {model: bench, tier: [mql, sql]}, at_least: 2}, points: 10}
  engagement:
    cap: 40
    decay: {half_life_days: 30}
    rules:
      - name: pricing by 2+ people
        when: {event: page_view, where: {url: {contains: /pricing}}, within_days: 30, at_least: 2, count: contacts}
        points: 15
      - {name: any demo request, when: {event: demo_request, within_days: 60}, points: 20}
      - {name: email clicks, when: {event: email_click}, points_per_event: 1, max: 10}
      - {name: gone quiet, when: {no_event_within_days: 60}, points: -10}
"""


@dataclass
class AccountBenchResult:
    """One account benchmark. Times in seconds, memory in MiB."""

    contacts: int
    events: int
    companies: int
    seed: int
    as_of: datetime
    data_s: float
    contact_runs_s: list[float]
    account_runs_s: list[float]
    contact_rss_mb: float
    account_rss_mb: float
    scored_contacts: int
    scored_companies: int
    expected_companies: int  # companies created by the as-of
    members: int  # contacts belonging to a company
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def contact_s(self) -> float:
        return min(self.contact_runs_s)

    @property
    def account_s(self) -> float:
        return min(self.account_runs_s)

    @property
    def ratio(self) -> float:
        return self.account_s / self.contact_s if self.contact_s > 0 else float("inf")

    @property
    def passed(self) -> bool:
        return self.ratio <= MAX_RATIO and self.scored_companies == self.expected_companies

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out.update(contact_s=self.contact_s, account_s=self.account_s, ratio=self.ratio, passed=self.passed)
        return out


def _workspace(directory: Path) -> Workspace:
    root = directory / "accounts-ws"
    shutil.rmtree(root, ignore_errors=True)
    (root / "models").mkdir(parents=True)
    (root / "models" / "bench.yml").write_text(BENCH_MODEL_YAML, encoding="utf-8")
    (root / "models" / "bench_accounts.yml").write_text(BENCH_ACCOUNT_MODEL_YAML, encoding="utf-8")
    ws = init_workspace(root, name="bench-accounts")
    settings = ws.root / SETTINGS_FILE
    settings.write_text(settings.read_text(encoding="utf-8").replace("match_by_domain: false", "match_by_domain: true"),
                        encoding="utf-8")
    return Workspace.load(root)


def run_account_bench(directory: str | Path, n_contacts: int, n_events: int, n_companies: int, seed: int = 7, *,
                      runs: int = 2) -> AccountBenchResult:
    """Generate the data into ``directory``, then time the contact model and the account model."""
    work = Path(directory)
    work.mkdir(parents=True, exist_ok=True)
    ws = _workspace(work)
    started = time.perf_counter()
    data = generate(n_contacts, n_events, seed=seed, n_companies=n_companies)
    with ws.open_store() as store:
        load_into_store(store, data)
    data_s = time.perf_counter() - started
    as_of = data.as_of
    del data
    library.publish(ws.models_dir / "bench.yml", workspace=ws)
    library.publish(ws.models_dir / "bench_accounts.yml", workspace=ws)

    contact_runs: list[tuple[dict[str, Any], float, float]] = []
    account_runs: list[tuple[dict[str, Any], float, float]] = []
    for _ in range(max(1, runs)):
        contact_runs.append(_run_child(ws, as_of, work / "contact_scores.parquet", work / "contacts.log", "bench"))
        _forget_scores(ws)
        account_runs.append(_run_child(ws, as_of, work / "account_scores.parquet", work / "accounts.log",
                                       "bench_accounts"))
        _forget_scores(ws, ("account_scores", "account_score_history", "score_runs"))
    best = min(account_runs, key=lambda run: float(run[0]["score_s"]))[0]
    with library.open_store(ws, read_only=True) as store:
        expected = store.con.execute("SELECT count(DISTINCT company_id) FROM companies "
                                     "WHERE created_at IS NULL OR created_at <= ?", [as_of]).fetchone()
        members = store.con.execute(
            f"SELECT count(*) FROM ({_membership(store)})").fetchone()
    return AccountBenchResult(
        contacts=n_contacts, events=n_events, companies=n_companies, seed=seed, as_of=as_of, data_s=data_s,
        contact_runs_s=[float(r[0]["score_s"]) for r in contact_runs],
        account_runs_s=[float(r[0]["score_s"]) for r in account_runs],
        contact_rss_mb=max(r[2] for r in contact_runs), account_rss_mb=max(r[2] for r in account_runs),
        scored_contacts=int(contact_runs[-1][0]["scored"]), scored_companies=int(best["scored"]),
        expected_companies=int(expected[0]) if expected else 0, members=int(members[0]) if members else 0,
        phases={k: float(v) for k, v in best.get("phases", {}).items()},
    )


def _membership(store: Any) -> str:
    from leadscore.engine.account_sql import membership_sql

    return membership_sql(store)


def format_account_bench(result: AccountBenchResult) -> str:
    """The text ``leadscore bench accounts`` prints."""
    r = result
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in r.phases.items())
    return "\n".join([
        f"leadscore bench accounts: {r.companies:,} companies, {r.contacts:,} contacts ({r.members:,} in a "
        f"company), {r.events:,} events, as of {r.as_of:%Y-%m-%d}",
        f"  data (generate + load)   {r.data_s:8.2f} s",
        f"  contact model (bench)    {r.contact_s:8.2f} s  {per_second(r.events, r.contact_s):>14,.0f} events/s"
        f"  (runs: {', '.join(f'{t:.2f}' for t in r.contact_runs_s)}; {r.scored_contacts:,} contacts)",
        f"  account model            {r.account_s:8.2f} s  {per_second(r.events, r.account_s):>14,.0f} events/s"
        f"  (runs: {', '.join(f'{t:.2f}' for t in r.account_runs_s)}; {r.scored_companies:,} companies "
        f"of {r.expected_companies:,})",
        f"  ratio account / contact  {r.ratio:8.2f} x  (limit {MAX_RATIO} x)",
        f"  peak RSS                 contact {r.contact_rss_mb:.0f} MiB, account {r.account_rss_mb:.0f} MiB",
        f"  phases (account)         {phases}",
        f"  {'PASS' if r.passed else 'FAIL'}",
    ])
