"""``leadscore serve`` as a user runs it: a real process, a real port, SIGTERM or Ctrl-C ends it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from leadscore.api.keys import create_key
from leadscore.api.server import free_port
from leadscore.storage.store import Store
from leadscore.workspace import Workspace


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_and_stops_cleanly(small_ws: Workspace, stop: signal.Signals) -> None:
    with small_ws.open_store() as store:
        _, key = create_key(store, "write")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--log-level",
                             "warning", "-w", str(small_ws.root)], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        r = httpx.post(f"http://127.0.0.1:{port}/v1/events", json={"contact_id": "c1", "type": "email_open"},
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        # the CLI meanwhile: refused, with who holds the store and what to use instead
        other = subprocess.run([sys.executable, "-m", "leadscore", "keys", "list", "-w", str(small_ws.root)],
                               capture_output=True, text=True, timeout=60)
        assert other.returncode == 2 and "Traceback" not in other.stderr
        assert f"`leadscore serve` (PID {proc.pid}) holds it" in other.stderr
        assert "HTTP API" in other.stderr
    finally:
        proc.send_signal(stop)
        code = proc.wait(60)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
    with Store.open(small_ws.store_path) as store:  # the lock is released, the event committed
        assert store.count("events") == 8


def test_serve_on_a_locked_store_is_one_clear_error(small_ws: Workspace) -> None:
    with small_ws.open_store():
        proc = subprocess.run([sys.executable, "-m", "leadscore", "serve", "--port", str(free_port()),
                               "-w", str(small_ws.root)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "in use by another process" in proc.stderr and "Traceback" not in proc.stderr
    assert f"(PID {os.getpid()}: " in proc.stderr  # this test's own process holds it


def test_a_taken_port_is_one_line_and_exit_status_2(small_ws: Workspace) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--no-worker",
                              "--no-schedule", "-w", str(small_ws.root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is taken" in lines[0], out.stderr
    assert "serving" not in out.stderr + out.stdout
