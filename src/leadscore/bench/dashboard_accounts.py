"""``leadscore bench dashboard-accounts``: the accounts list and the account page of a real ``leadscore serve``.

Built on the demo workspace (``leadscore demo``'s data: 20,000 contacts, 500,000 events, 6,666
companies, scored weekly over 8 weeks by the contact model and the account model), or any
size given. A rep and a marketing user are created, ``leadscore serve`` is started as a child
process, both log in through the form, and whole page loads are timed from one client, one
request at a time (as ``bench/dashboard.py`` times the leads pages):

* ``accounts (rep)``: the rep's own companies (owner filter), page 1 then its "Next" links;
* ``accounts (all)``: every company, page 1 then four "Next" links;
* ``accounts (filtered)``: a tier, a search by name, a search by domain;
* ``account page``: random companies' pages (marketing sees them all).

    leadscore bench dashboard-accounts --dir /tmp/acc            # build the demo there and time it
    leadscore bench dashboard-accounts --dir /tmp/acc --reuse    # time it again without rebuilding
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from leadscore.bench.dashboard import NEXT, PASSWORD, REP_OWNER, TARGET_P95_MS, Client, PageTimes, _login, _time


def build(root: Path, contacts: int, events: int, seed: int) -> float:
    """The demo workspace (both models, 8 weeks of history) and two users; returns the seconds it took."""
    from leadscore.demo.build import build_demo
    from leadscore.users import create_user
    from leadscore.workspace import Workspace

    started = time.perf_counter()
    build_demo(root, contacts=contacts, events=events, seed=seed, history_weeks=8)
    with Workspace.load(root).open_store() as store:
        create_user(store, "rep", "rep", owner_value=REP_OWNER, password=PASSWORD)
        create_user(store, "mkt", "marketing", password=PASSWORD)
    return time.perf_counter() - started


def _pages(client: Client, into: PageTimes, start: str, pages: int) -> None:
    html = _time(client, start, into)
    for _ in range(pages - 1):
        found = NEXT.search(html)
        if not found:
            return
        html = _time(client, found.group(1).replace("&amp;", "&"), into)


def measure(url: str, ids: list[str], names: list[str], *, rounds: int, seed: int, server_pid: int
            ) -> list[PageTimes]:
    rng = random.Random(seed)
    rep, mkt = Client(_login(url, "rep"), server_pid), Client(_login(url, "mkt"), server_pid)
    rep_list, all_list, filtered, account = (PageTimes("accounts (rep)"), PageTimes("accounts (all)"),
                                             PageTimes("accounts (filtered)"), PageTimes("account page"))
    for client in (rep, mkt):  # warm-up: imports, compiled SQL, caches
        _pages(client, PageTimes("warm"), "/accounts", 2)
    _time(mkt, f"/accounts/{quote(ids[0], safe='')}", PageTimes("warm"))
    for _ in range(rounds):
        _pages(rep, rep_list, "/accounts", 3)
        _pages(mkt, all_list, "/accounts", 5)
        _time(mkt, "/accounts?tier=warm", filtered)
        _time(mkt, f"/accounts?q={quote(rng.choice(names))}", filtered)
        _time(rep, "/accounts?q=.io", filtered)
        for cid in rng.sample(ids, 6):
            _time(mkt, f"/accounts/{quote(cid, safe='')}", account)
    return [rep_list, all_list, filtered, account]


@dataclass
class AccountsDashboardBench:
    contacts: int
    events: int
    companies: int
    build_s: float | None
    pages: list[PageTimes]
    load_average: tuple[float, float, float]

    def to_dict(self) -> dict[str, object]:
        return {"contacts": self.contacts, "events": self.events, "companies": self.companies,
                "build_s": self.build_s, "load_average": self.load_average, "target_p95_ms": TARGET_P95_MS,
                "pages": [{"page": t.name, "requests": len(t.ms), "p50_ms": t.p50, "p95_ms": t.p95,
                           "max_ms": max(t.ms), "server_cpu_p50_ms": t.cpu_p50} for t in self.pages]}


def run_accounts_dashboard_bench(directory: Path, contacts: int = 20_000, events: int = 500_000, *,
                                 rounds: int = 10, seed: int = 42, reuse: bool = False) -> AccountsDashboardBench:
    """Build (or, with ``reuse``, keep) the workspace in ``directory/ws``, serve it, time the pages."""
    from leadscore.api.server import free_port
    from leadscore.bench.api import start_server
    from leadscore.storage.store import Store

    root = directory / "ws"
    build_s = None
    if not (reuse and (root / "leadscore.duckdb").exists()):
        build_s = build(root, contacts, events, seed)
    with Store.open(root / "leadscore.duckdb", read_only=True) as store:
        counts = store.count("contacts"), store.count("events"), store.count("companies")
        sample = store.con.execute("""SELECT s.company_id, c.name FROM account_scores s JOIN companies c
                                      USING (company_id) USING SAMPLE 500 ROWS""").fetchall()
    ids = [r[0] for r in sample]
    names = [str(r[1]).split()[0].lower() for r in sample if r[1]]
    port = free_port()
    proc = start_server(root, port)
    try:
        pages = measure(f"http://127.0.0.1:{port}", ids, names, rounds=rounds, seed=seed, server_pid=proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return AccountsDashboardBench(*counts, build_s, pages, os.getloadavg())


def format_accounts_dashboard_bench(r: AccountsDashboardBench) -> str:
    lines = []
    if r.build_s is not None:
        lines.append(f"built the demo workspace in {r.build_s:.0f} s")
    lines.append(f"store: {r.contacts:,} contacts, {r.events:,} events, {r.companies:,} companies; one client, "
                 f"sequential requests; target p95 < {TARGET_P95_MS:.0f} ms; load average after: "
                 + " ".join(f"{x:.1f}" for x in r.load_average))
    lines.append(f"{'page':<21}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'server CPU p50 ms':>19}")
    for t in r.pages:
        cpu = f"{t.cpu_p50:>19.1f}" if t.cpu_p50 is not None else f"{'—':>19}"
        verdict = "ok" if t.p95 < TARGET_P95_MS else "OVER"
        lines.append(f"{t.name:<21}{len(t.ms):>9}{t.p50:>9.1f}{t.p95:>9.1f}{max(t.ms):>9.1f}{cpu}  {verdict}")
    return "\n".join(lines)
