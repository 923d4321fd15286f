"""``leadscore bench api`` (``make bench-api``): a real server on a generated workspace, loaded by concurrent clients.

What it measures, end to end over loopback HTTP: from sending a request to receiving its answer,
which the server sends only after the event, the contact's new scores, history and any queued
workflow actions have committed. Phases:

1. ``single x1``: one client, one event per request, sequential: the latency a lone tracker sees;
2. ``single xC``: C concurrent clients, one event per request (the writer groups their commits);
3. ``batch B xC``: C clients posting batches of B events: sustained events per second.

The server runs in a subprocess (``leadscore serve``, no worker, no schedule) so the clients'
Python does not share its GIL; on a small machine clients and server still share the cores, so
read the figures as a floor. Afterwards the server gets SIGTERM and the store is checked: every
accepted event is there.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leadscore.api.server import free_port

EVENT_MIX = (("page_view", "/pricing"), ("page_view", "/blog/scoring"), ("page_view", "/docs"),
             ("email_open", None), ("email_click", None), ("form_submit", None), ("demo_request", None))


@dataclass
class Phase:
    name: str
    clients: int
    requests: int
    events: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float = 0.0  #: the slowest request (``bench api-large`` prints it)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class ApiBenchResult:
    contacts: int
    events_before: int
    phases: list[Phase] = field(default_factory=list)
    events_after: int = 0
    accepted: int = 0
    setup_seconds: float = 0.0
    clean_exit: bool = False
    server: dict[str, float] = field(default_factory=dict)  # from /metrics: the writer's side

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for p, d in zip(self.phases, data["phases"], strict=True):
            d["events_per_s"], d["requests_per_s"] = p.events_per_s, p.requests_per_s
        return data


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class _Events:
    """Bench events for existing contacts, each with a unique id (so every one is written)."""

    def __init__(self, contact_ids: list[str], seed: int):
        self.ids = contact_ids
        self.rng = random.Random(seed)
        self.n = 0

    def make(self, tag: str) -> dict[str, Any]:
        self.n += 1
        etype, url = self.rng.choice(EVENT_MIX)
        event: dict[str, Any] = {"event_id": f"bench-{tag}-{self.n}", "contact_id": self.rng.choice(self.ids),
                                 "type": etype}
        if url:
            event["properties"] = {"url": url}
        return event


def _server_figures(url: str) -> dict[str, float]:
    """The writer's transactions, group sizes and rescoring time, read from the server's /metrics."""
    values: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(("leadscore_write_", 'leadscore_rescore_seconds_sum{kind="realtime"}',
                            'leadscore_rescore_seconds_count{kind="realtime"}')):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    commits = values.get("leadscore_write_commit_seconds_count", 0.0)
    rescores = values.get('leadscore_rescore_seconds_count{kind="realtime"}', 0.0)
    return {
        "transactions": commits,
        "requests_per_transaction": values.get("leadscore_write_group_size_sum", 0.0) / commits if commits else 0.0,
        "transaction_ms": 1000 * values.get("leadscore_write_commit_seconds_sum", 0.0) / commits if commits else 0.0,
        "rescore_ms": 1000 * values.get('leadscore_rescore_seconds_sum{kind="realtime"}', 0.0) / rescores
        if rescores else 0.0,
        "side_jobs": values.get('leadscore_write_side_jobs_total{lane="side"}', 0.0),
        "after_main": values.get('leadscore_write_side_jobs_total{lane="after_main"}', 0.0),
    }


def build_workspace(directory: Path, contacts: int, events: int, seed: int) -> tuple[str, list[str], int]:
    """A demo workspace (starter model published and scored); returns a write key, ids, events."""
    from leadscore import library
    from leadscore.api.keys import create_key
    from leadscore.demo.generator import generate, load_into_store
    from leadscore.workspace import init_workspace

    ws = init_workspace(directory, name="api-bench")
    data = generate(contacts, events, seed=seed)
    with ws.open_store() as store:
        load_into_store(store, data)
    library.publish(ws.models_dir / "b2b.yml", workspace=ws)
    library.score(workspace=ws)
    with ws.open_store() as store:
        _, key = create_key(store, "write", "bench")
        ids = [r[0] for r in store.con.execute(
            "SELECT contact_id FROM contacts USING SAMPLE 5000 ROWS").fetchall()]
        n_events = store.count("events")
    return key, ids, n_events


def start_server(directory: Path, port: int, *, wait: float = 60.0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SALES_HOOK_URL": "http://127.0.0.1:9/bench"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--no-worker", "--no-schedule",
         "--log-level", "warning", "-w", str(directory)], env=env)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bench server exited with status {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the bench server did not start within {wait:.0f} s")


def _single_sequential(url: str, key: str, gen: _Events, requests: int) -> Phase:
    lat: list[float] = []
    errors = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for _ in range(20):  # warm-up: first requests pay for imports and caches
            client.post("/v1/events", json=gen.make("warm"))
        started = time.perf_counter()
        for _ in range(requests):
            t = time.perf_counter()
            r = client.post("/v1/events", json=gen.make("s1"))
            lat.append(time.perf_counter() - t)
            errors += r.status_code != 200
        total = time.perf_counter() - started
    return Phase("single x1", 1, requests, requests, total, errors, _quantile(lat, 0.5), _quantile(lat, 0.99))


async def _concurrent(url: str, key: str, gen: _Events, clients: int, seconds: float, batch: int,
                      name: str) -> Phase:
    lat: list[float] = []
    errors = 0
    sent_events = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                                 limits=limits) as client:
        stop_at = time.perf_counter() + seconds

        async def loop(i: int) -> None:
            nonlocal errors, sent_events
            while time.perf_counter() < stop_at:
                if batch == 1:
                    body: dict[str, Any] = gen.make(f"{name}-{i}")
                else:
                    body = {"events": [gen.make(f"{name}-{i}") for _ in range(batch)]}
                t = time.perf_counter()
                r = await client.post("/v1/events", json=body)
                lat.append(time.perf_counter() - t)
                if r.status_code == 200:
                    sent_events += r.json()["accepted"]
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(clients)))
        total = time.perf_counter() - started
    return Phase(name, clients, len(lat), sent_events, total, errors, _quantile(lat, 0.5), _quantile(lat, 0.99))


def run_api_bench(directory: str | Path, *, contacts: int = 100_000, events: int = 2_000_000, clients: int = 4,
                  seconds: float = 10.0, batch: int = 500, single_requests: int = 500,
                  seed: int = 7) -> ApiBenchResult:
    """Build the workspace, start the server, run the phases, stop it with SIGTERM, check the store."""
    root = Path(directory)
    started = time.perf_counter()
    key, ids, before = build_workspace(root, contacts, events, seed)
    result = ApiBenchResult(contacts=contacts, events_before=before, setup_seconds=time.perf_counter() - started)
    port = free_port()
    proc = start_server(root, port)
    url = f"http://127.0.0.1:{port}"
    gen = _Events(ids, seed)
    try:
        result.phases.append(_single_sequential(url, key, gen, single_requests))
        result.phases.append(asyncio.run(_concurrent(url, key, gen, clients, seconds, 1, f"single x{clients}")))
        result.phases.append(asyncio.run(_concurrent(url, key, gen, clients, seconds, batch,
                                                     f"batch {batch} x{clients}")))
        result.server = _server_figures(url)
    finally:
        result.clean_exit = _stop_server(proc, 60)
    result.events_after, result.accepted = _stored_events(root / "leadscore.duckdb")
    return result


def _stop_server(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """SIGTERM, then wait: whether the server exited cleanly (status 0) within ``timeout``."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def _stored_events(path: Path) -> tuple[int, int]:
    """Events in the store after the run, and how many of them the bench's clients sent."""
    from leadscore.storage.store import Store

    with Store.open(path, read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'bench-%'").fetchone()
        return store.count("events"), int(row[0]) if row else 0


def format_api_bench(r: ApiBenchResult) -> str:
    lines = [f"workspace: {r.contacts:,} contacts, {r.events_before:,} events (built in {r.setup_seconds:.1f} s)",
             f"{'phase':<18}{'requests':>10}{'events':>10}{'events/s':>11}{'req/s':>9}{'p50 ms':>9}"
             f"{'p99 ms':>9}{'errors':>8}"]
    for p in r.phases:
        lines.append(f"{p.name:<18}{p.requests:>10,}{p.events:>10,}{p.events_per_s:>11,.0f}{p.requests_per_s:>9,.0f}"
                     f"{p.p50_ms:>9.1f}{p.p99_ms:>9.1f}{p.errors:>8}")
    return "\n".join(lines + server_and_store_lines(r.server, r.events_before, r.events_after, r.accepted,
                                                   r.clean_exit))


def server_and_store_lines(server: dict[str, float], before: int, after: int, accepted: int,
                           clean_exit: bool) -> list[str]:
    """The server's write figures and what the store holds after SIGTERM (both API benches)."""
    lines = []
    if server:
        lines.append(f"server: {server['transactions']:,.0f} write transactions, "
                     f"{server['requests_per_transaction']:.1f} requests each on average, "
                     f"{server['transaction_ms']:.1f} ms each, of which rescoring {server['rescore_ms']:.1f} ms")
        side, waited = server.get("side_jobs", 0.0), server.get("after_main", 0.0)
        if side or waited:
            lines.append(f"side lane: {side:,.0f} small writes beside batches, {waited:,.0f} after the batch holding "
                         f"their contact ({100 * waited / (side + waited):.1f}%)")
    lines.append(f"store after SIGTERM: {after:,} events ({after - before:,} new, {accepted:,} bench ids); "
                 f"server exit {'clean' if clean_exit else 'NOT clean'}")
    return lines
