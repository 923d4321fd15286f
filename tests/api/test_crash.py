"""Nothing half-written: a server SIGKILLed inside a write's transaction leaves the store as before.

The write (events, a new contact, rescoring, history, crossings) is one transaction; the test
pauses the real server process just before its commit (``faults.fault_point``), kills it, and
reopens the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from tests.api.conftest import make_workspace

from leadscore.api.server import free_port
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

TABLES = ("events", "contacts", "scores", "score_history", "score_runs")


def _serve(ws_root: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--no-worker",
                             "--no-schedule", "--log-level", "warning", "-w", str(ws_root)],
                            env={**os.environ, **env})
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _counts(path: Path) -> dict[str, int]:
    with Store.open(path, read_only=True) as store:
        return {t: store.count(t) for t in TABLES}


def _paused_before_commit(tmp_path: Path) -> tuple[Workspace, dict[str, int], Path, int, subprocess.Popen[bytes],
                                                   dict[str, str]]:
    """A workspace, its counts, and a server whose write groups pause before their commit (each
    writes ``marker`` first): the workspace, counts, marker, port, process and write headers."""
    ws, keys = make_workspace(tmp_path / "ws")
    before = _counts(ws.store_path)
    marker = tmp_path / "paused"
    port = free_port()
    proc = _serve(ws.root, port, {"LEADSCORE_FAULT_PAUSE": "api.before_commit", "LEADSCORE_FAULT_MARKER": str(marker)})
    return ws, before, marker, port, proc, {"Authorization": f"Bearer {keys['write']}"}


def test_sigkill_before_commit_leaves_nothing_half_written(tmp_path: Path) -> None:
    ws, before, marker, port, proc, headers = _paused_before_commit(tmp_path)
    batch = {"events": [{"contact_id": "c3", "type": "demo_request", "event_id": "k-1"},  # crosses into sql
                        {"email": "brand-new@example.com", "type": "page_view", "event_id": "k-2"}]}

    def post() -> None:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/events", json=batch, headers=headers, timeout=60)
        except httpx.HTTPError:
            pass  # the server dies under the request

    sender = threading.Thread(target=post)
    sender.start()
    for _ in range(300):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "the write never reached its commit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sender.join(30)
    assert _counts(ws.store_path) == before
    # restarted, the same request goes through whole
    proc = _serve(ws.root, port, {})
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/events", json=batch, headers=headers, timeout=60)
        assert r.status_code == 200 and r.json()["accepted"] == 2
        assert r.json()["events"][1]["contact_id"].startswith("c_")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    after = _counts(ws.store_path)
    assert after["events"] == before["events"] + 2 and after["contacts"] == before["contacts"] + 1
    with Store.open(ws.store_path, read_only=True) as store:
        assert store.con.execute("SELECT tier FROM scores WHERE contact_id = 'c3'").fetchone() == ("sql",)


def test_a_model_failing_in_rescoring_does_not_lose_the_write(tmp_path: Path) -> None:
    """A real failure after the event is inserted: the published model needs a column that is gone.

    The writer's transaction is rolled back and rerun without that model (``leadscore.scoring``
    quarantines it), so the event and its new contact are stored whole, and the failure is
    reported instead of refusing every write until someone fixes the model.
    """
    from leadscore.api import create_app
    from leadscore.api.server import ThreadedServer

    ws, keys = make_workspace(tmp_path / "ws")
    with Store.open(ws.store_path) as store:
        store.con.execute("ALTER TABLE contacts DROP COLUMN company_size")  # the model's `big company`
    before = _counts(ws.store_path)
    with ThreadedServer(create_app(ws, worker=False, scheduler=False)) as server:
        headers = {"Authorization": f"Bearer {keys['write']}"}
        r = httpx.post(f"{server.url}/v1/events", json={"email": "new@x.io", "type": "demo_request"},
                       headers=headers)
        assert r.status_code == 200, r.text
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # the writer lives on
        metrics = httpx.get(f"{server.url}/metrics", headers=headers).text
        assert 'leadscore_model_failures_total{model="small"} 1.0' in metrics
    after = _counts(ws.store_path)
    assert (after["contacts"], after["events"]) == (before["contacts"] + 1, before["events"] + 1)


def test_sigterm_under_load_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    """Clients keep sending while the server gets SIGTERM: whatever got a 200 is in the store."""
    ws, keys = make_workspace(tmp_path / "ws")
    port = free_port()
    proc = _serve(ws.root, port, {})
    acked: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                          headers={"Authorization": f"Bearer {keys['write']}"}) as c:
            for i in range(10_000):
                if stop.is_set():
                    return
                eid = f"t-{n}-{i}"
                try:
                    r = c.post("/v1/events", json={"event_id": eid, "contact_id": f"c{1 + i % 4}",
                                                   "type": "email_open"})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    acked.append(eid)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 20
    with Store.open(ws.store_path, read_only=True) as store:
        stored = {r[0] for r in store.con.execute("SELECT event_id FROM events WHERE event_id LIKE 't-%'").fetchall()}
    assert set(acked) <= stored


def test_sigkill_with_both_writer_lanes_open_leaves_nothing_half_written(tmp_path: Path) -> None:
    """A batch's transaction open on the main lane and a single event's on the side lane
    (api/writer.py), both paused before their commit, then SIGKILL: neither is in the store; after
    a restart (the copy of the events by contact built again) both go through whole."""
    ws, before, marker, port, proc, headers = _paused_before_commit(tmp_path)
    batch = {"events": [{"contact_id": f"c{1 + i % 2}", "type": "page_view", "event_id": f"both-b{i}"}
                        for i in range(30)]}  # a heavy job: the main lane
    single = {"contact_id": "c4", "type": "demo_request", "event_id": "both-s1"}  # the side lane

    def post(body: dict[str, object]) -> None:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/events", json=body, headers=headers, timeout=60)
        except httpx.HTTPError:
            pass  # the server dies under the request

    senders = []
    for body in (batch, single):
        senders.append(threading.Thread(target=post, args=(body,)))
        senders[-1].start()
        for _ in range(300):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "a write never reached its commit"
        marker.unlink()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for sender in senders:
        sender.join(30)
    assert _counts(ws.store_path) == before
    proc = _serve(ws.root, port, {})
    try:
        for body in (batch, single):
            r = httpx.post(f"http://127.0.0.1:{port}/v1/events", json=body, headers=headers, timeout=60)
            assert r.status_code == 200 and r.json()["accepted"] == len(body.get("events", [body]))  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    after = _counts(ws.store_path)
    assert after["events"] == before["events"] + 31
