"""What workflows cost: a whole-base score run with and without them, and the worker's send rate.

    python -m leadscore.workflows.bench [CONTACTS] [EVENTS]

Builds the demo data set, scores it once as of two weeks before its end (the baseline, which fires
nothing), copies the store, then scores both copies as of the end: one with the engine alone, one
through ``workflows.rescore_all`` with the example model's workflow (webhook, task, set) plus an
``if:`` condition and a list step. Then a worker delivers the queued webhooks to a local HTTP
receiver that answers 200 at once. Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from leadscore.engine.run import publish, run_model
from leadscore.model.loader import parse_model
from leadscore.scoring import score_all
from leadscore.storage.store import Store
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


def main(contacts: int = 200_000, events: int = 2_000_000, send_limit: int = 3000) -> None:
    from leadscore.demo.generator import generate, load_into_store

    # the receiver runs in its own process, so it does not share the worker's interpreter lock
    receiver = subprocess.Popen([sys.executable, "-c", "from leadscore.workflows.bench import serve; serve()"],
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
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
            run_model(store, version, as_of=end - timedelta(days=14))
        plain = root / "plain.duckdb"
        shutil.copy(ws.store_path, plain)
        with Store.open(plain) as store:
            store.con.execute("SET enable_progress_bar = false")
            t = time.perf_counter()
            run = run_model(store, store.get_version(version.model), as_of=end)
            engine_only = time.perf_counter() - t
        with ws.open_store() as store:
            store.con.execute("SET enable_progress_bar = false")
            t = time.perf_counter()
            stats = score_all(store, as_of=end).workflows
            with_workflows = time.perf_counter() - t
        print(f"{contacts:,} contacts, {events:,} events, model {version.model} v{version.version}")
        print(f"whole-base run, engine only:     {engine_only:.2f} s ({run.crossings:,} tier crossings)")
        print(f"whole-base run, with workflows:  {with_workflows:.2f} s "
              f"(+{with_workflows - engine_only:.2f} s; fired {stats.fired}, {stats.queued:,} webhooks queued, "
              f"{stats.tasks:,} tasks, {stats.properties_set:,} property changes, {stats.list_changes:,} list adds)")
        with ws.open_store() as store, Worker(store, ws) as worker:
            t = time.perf_counter()
            sent = 0
            while sent < send_limit:
                n = worker.deliver_due(limit=min(500, send_limit - sent))
                if n == 0:
                    break
                sent += n
            seconds = time.perf_counter() - t
        print(f"worker: {sent:,} webhooks delivered in {seconds:.2f} s = {sent / seconds:,.0f}/s "
              f"(concurrency {ws.settings.delivery.concurrency}, local receiver)")
    finally:
        receiver.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
