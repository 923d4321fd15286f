"""``leadscore bench workflows`` (``make bench-workflows``): what workflows cost, a whole-base score
run with and without them, and the worker's send rate.

    leadscore bench workflows --contacts 200000 --events 2000000

Builds the demo data set, scores it once as of two weeks before its end (the baseline, which fires
nothing), copies the store, then scores both copies as of the end: one with the engine alone, one
as ``leadscore score`` does (workflow hook and settling) with the example model's workflow
(webhook, task, set) plus an ``if:`` condition and a list step. Then a worker delivers the queued
webhooks to a local HTTP receiver that answers 200 at once. Figures depend on the machine and on
what else runs on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from leadscore.engine.run import RunResult, publish, run_model
from leadscore.model.loader import parse_model
from leadscore.scoring import score_all
from leadscore.storage.store import Store
from leadscore.workflows.hook import WorkflowStats
from leadscore.workflows.worker import Worker
from leadscore.workspace import init_workspace

EXTRA_WORKFLOW = """  - name: nurture saas
    on: {enters_tier: nurture}
    if: {property: company_size, gte: 50}
    cooldown_hours: 24
    do:
      - add_to_list: nurture-mid-market
"""


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the figure is about the worker, not TCP set-up

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _model_text() -> str:
    """The documented example model (its workflow: webhook, task, set) plus ``EXTRA_WORKFLOW``."""
    text = resources.files("leadscore.data").joinpath("example_model.yml").read_text("utf-8")
    return text.rstrip("\n") + "\n" + EXTRA_WORKFLOW


def serve() -> None:
    """The bench's webhook receiver: prints its port, answers 200 to every POST."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def _engine_only(store: Store, as_of: datetime) -> RunResult:
    """The engine's own whole-base run of the one published model: no hook, no settling."""
    [version] = store.latest_versions()
    return run_model(store, version, as_of=as_of)


def _as_leadscore_score(store: Store, as_of: datetime) -> tuple[list[RunResult], WorkflowStats]:
    """The whole-base run ``leadscore score`` makes (hook and settling), with what the workflows did."""
    runs = score_all(store, as_of=as_of)
    return list(runs), runs.workflows


def run_workflows_bench(contacts: int = 200_000, events: int = 2_000_000, send_limit: int = 3000) -> dict[str, Any]:
    """Build, score both ways, deliver; returns the figures ``format_workflows_bench`` prints."""
    from leadscore.demo.generator import generate, load_into_store

    # the receiver runs in its own process, so it does not share the worker's interpreter lock
    receiver = subprocess.Popen([sys.executable, "-c", "from leadscore.bench.workflows import serve; serve()"],
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    saved_hook = os.environ.get("SALES_HOOK_URL")
    os.environ["SALES_HOOK_URL"] = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/hook"
    root = Path(tempfile.mkdtemp(prefix="ls-wf-bench-"))
    try:
        ws = init_workspace(root / "ws")
        data = generate(contacts, events)
        loaded = parse_model(_model_text())
        end = data.as_of
        with ws.open_store() as store:
            store.con.execute("SET enable_progress_bar = false")
            load_into_store(store, data)
            version = publish(store, loaded)
            _engine_only(store, end - timedelta(days=14))
        plain = root / "plain.duckdb"
        shutil.copy(ws.store_path, plain)
        with Store.open(plain) as store:
            store.con.execute("SET enable_progress_bar = false")
            t = time.perf_counter()
            run = _engine_only(store, end)
            engine_only = time.perf_counter() - t
        with ws.open_store() as store:
            store.con.execute("SET enable_progress_bar = false")
            t = time.perf_counter()
            _, stats = _as_leadscore_score(store, end)
            with_workflows = time.perf_counter() - t
        with ws.open_store() as store, Worker(store, ws) as worker:
            t = time.perf_counter()
            sent = 0
            while sent < send_limit:
                n = worker.deliver_due(limit=min(500, send_limit - sent))
                if n == 0:
                    break
                sent += n
            seconds = time.perf_counter() - t
        return {"contacts": contacts, "events": events, "model": version.model, "version": version.version,
                "engine_only_seconds": engine_only, "crossings": run.crossings,
                "with_workflows_seconds": with_workflows, "fired": stats.fired, "queued": stats.queued,
                "tasks": stats.tasks, "properties_set": stats.properties_set, "list_changes": stats.list_changes,
                "resettled": stats.resettled, "delivered": sent, "deliver_seconds": seconds,
                "concurrency": ws.settings.delivery.concurrency}
    finally:
        receiver.kill()
        receiver.wait()
        if saved_hook is None:
            os.environ.pop("SALES_HOOK_URL", None)
        else:
            os.environ["SALES_HOOK_URL"] = saved_hook
        shutil.rmtree(root, ignore_errors=True)


def format_workflows_bench(f: dict[str, Any]) -> str:
    rate = f["delivered"] / f["deliver_seconds"] if f["deliver_seconds"] else 0.0
    return "\n".join([
        f"{f['contacts']:,} contacts, {f['events']:,} events, model {f['model']} v{f['version']}",
        f"whole-base run, engine only:     {f['engine_only_seconds']:.2f} s ({f['crossings']:,} tier crossings)",
        f"whole-base run, with workflows:  {f['with_workflows_seconds']:.2f} s "
        f"(+{f['with_workflows_seconds'] - f['engine_only_seconds']:.2f} s; fired {f['fired']}, "
        f"{f['queued']:,} webhooks queued, {f['tasks']:,} tasks, {f['properties_set']:,} property changes, "
        f"{f['list_changes']:,} list adds, {f['resettled']:,} contacts rescored after `set`)",
        f"worker: {f['delivered']:,} webhooks delivered in {f['deliver_seconds']:.2f} s = {rate:,.0f}/s "
        f"(concurrency {f['concurrency']}, local receiver)",
    ])
