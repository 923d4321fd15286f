"""Receiver outage: the webhook receiver is down (503) for 10 minutes, then recovers; the worker's
retries deliver 100% of the actions, none goes to the dead letters.

The clock is shortened rather than simulated: every delivery setting is divided by ``SCALE`` (60),
so 10 minutes of outage last 10 s and the worker's backoff (first retry 10 s, doubling, at most an
hour, jitter ±20%) keeps its shape: what the test sees in 10 s is what a user sees in 10 minutes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.reliability.common import Figures
from tests.reliability.faults import LATER, PY, _base_store
from tests.workflows.receivers import WebhookReceiver

from leadscore.storage.store import Store

SCALE = 60


class _FlakyReceiver(WebhookReceiver):
    """A receiver that answers 503 while ``down`` is set (and counts those attempts)."""

    def __init__(self) -> None:
        super().__init__(secret="s")
        self.down = threading.Event()
        self.refused = 0
        handler = self.server.RequestHandlerClass
        outer = self

        class Flaky(handler):  # type: ignore[valid-type, misc]
            def do_POST(self) -> None:  # noqa: N802
                if outer.down.is_set():
                    self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    with outer.lock:
                        outer.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                super().do_POST()

        self.server.RequestHandlerClass = Flaky


def run_outage(workdir: Path, *, outage_minutes: float = 10, contacts: int = 3000, events: int = 60000) -> Figures:
    fig = Figures(f"receiver outage: down {outage_minutes:g} min (clock / {SCALE}), then back",
                  "make reliability (tests/reliability/outage.py)")
    with _FlakyReceiver() as receiver:
        receiver.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        root = _base_store(workdir, receiver.url, contacts, events)
        settings = root / "leadscore.yml"
        text = settings.read_text()
        for key, value in (("first_retry_seconds: 10", f"first_retry_seconds: {10 / SCALE:.4f}"),
                           ("max_retry_seconds: 3600", f"max_retry_seconds: {3600 / SCALE:.4f}"),
                           ("give_up_after_hours: 24", f"give_up_after_hours: {24 / SCALE:.4f}")):
            text = text.replace(key, value)
        settings.write_text(text)
        subprocess.run([*PY, "score", "--as-of", LATER.isoformat(), "-w", str(root)], check=True, capture_output=True)
        with Store.open(root / "leadscore.duckdb", read_only=True) as store:
            actions = {r[0] for r in store.con.execute("SELECT action_id FROM outbox").fetchall()}
        receiver.down.set()
        worker = subprocess.Popen([*PY, "worker", "-w", str(root), "--poll", "0.05"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(outage_minutes * 60 / SCALE)
            refused_during = receiver.refused
            receiver.down.clear()
            back = time.monotonic()
            deadline = back + 600
            while time.monotonic() < deadline and not actions <= set(receiver.keys()):
                time.sleep(0.1)
            drained = time.monotonic() - back
        finally:
            worker.terminate()
            worker.wait(60)
        with Store.open(root / "leadscore.duckdb", read_only=True) as store:
            status = dict(store.con.execute("SELECT status, count(*) FROM outbox GROUP BY ALL").fetchall())
    delivered = len(actions & set(receiver.keys()))
    fig.figures = {"actions": len(actions), "delivered": f"{delivered} ({100 * delivered / max(len(actions), 1):.1f}%)",
                   "attempts refused during the outage": refused_during,
                   "all delivered after the receiver came back, in": f"{drained:.1f} s "
                                                                      f"(= {drained * SCALE / 60:.1f} min unscaled)",
                   "outbox": status}
    fig.require(delivered == len(actions) and len(actions) > 0, "not every action was delivered")
    fig.require(status.get("dead", 0) == 0, "dead letters")
    return fig


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_outage(Path(tmp), outage_minutes=float(sys.argv[1]) if len(sys.argv) > 1 else 10)
                        .lines()), flush=True)
