"""SIGKILL the `leadscore worker` process mid-delivery: on restart every action arrives, a delivered
one is never repeated, and the only duplicates are in-flight sends, carrying the same Idempotency-Key."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.workflows.helpers import MakeWs, rescore, set_props
from tests.workflows.receivers import WebhookReceiver

from leadscore.workspace import Workspace


def model(url: str) -> str:
    return f"""workflows:
  - name: to sales
    on: {{enters_tier: warm}}
    do:
      - webhook: {{url: "{url}", secret: s, timeout_seconds: 5}}
"""


def fire(ws: Workspace, *cids: str) -> None:
    with ws.open_store() as store:
        for cid in cids:
            set_props(store, cid, company_size=500)
        rescore(store, ws, *cids)


def worker(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "leadscore", "worker", "-w", str(ws.root), "--poll", "0.1",
                             *args], env=env or dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def outbox_state(ws: Workspace) -> dict[str, str]:
    with ws.open_store() as store:
        return dict(store.con.execute("SELECT action_id, status FROM outbox").fetchall())


@pytest.mark.parametrize("point", ["worker.before_send", "worker.after_send"])
def test_killed_worker_loses_nothing_and_repeats_only_in_flight_sends(make_ws: MakeWs, tmp_path: Path,
                                                                     point: str) -> None:
    with WebhookReceiver(secret="s") as receiver:
        ws = make_ws(model(receiver.url))
        fire(ws, "k1")
        done = worker(ws, "--until-idle")
        assert done.wait(60) == 0, done.stderr.read() if done.stderr else ""
        [delivered_before] = outbox_state(ws)
        fire(ws, "k2", "k3")

        marker = tmp_path / "paused"
        env = dict(os.environ, LEADSCORE_FAULT_PAUSE=point, LEADSCORE_FAULT_MARKER=str(marker))
        proc = worker(ws, env=env)
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.time() < deadline, f"the worker never reached {point}"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        in_flight = {a for a, s in outbox_state(ws).items() if s == "sending"}
        assert len(in_flight) == 2  # claimed, never recorded

        again = worker(ws, "--until-idle")
        assert again.wait(60) == 0, again.stderr.read() if again.stderr else ""
        final = outbox_state(ws)
        counts = collections.Counter(receiver.keys())

    assert set(final.values()) == {"delivered"} and len(final) == 3
    assert set(counts) == set(final)  # every action arrived
    assert counts[delivered_before] == 1  # a delivered action is not sent again
    assert all(r.signature_ok for r in receiver.requests)
    if point == "worker.before_send":
        assert all(n == 1 for n in counts.values())  # killed before sending: exactly once
    else:
        # sent, not recorded: resent with the same key (the second send may not have left yet)
        assert max(counts[a] for a in in_flight) == 2 and all(counts[a] <= 2 for a in in_flight)


def test_a_secret_missing_where_the_worker_runs_is_a_clear_retryable_error(
        make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    """`${ENV}` is filled where the worker runs; without it the action waits, saying why."""
    monkeypatch.setenv("WF_TEST_HOOK_SECRET", "s")
    ws = make_ws("""workflows:
  - name: to sales
    on: {enters_tier: warm}
    do:
      - webhook: {url: "http://127.0.0.1:9/x", secret: "${WF_TEST_HOOK_SECRET}"}
""")
    fire(ws, "k1")
    env = {k: v for k, v in os.environ.items() if k != "WF_TEST_HOOK_SECRET"}
    proc = worker(ws, "--until-idle", env=env)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    with ws.open_store() as store:
        status, error = store.con.execute("SELECT status, last_error FROM outbox").fetchone() or (None, None)
    assert status == "pending" and "WF_TEST_HOOK_SECRET" in (error or "") and "not set" in (error or "")


def test_a_missing_variable_is_a_validation_error_at_publish(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.workflows.helpers import BASE_MODEL

    from leadscore.errors import ModelError
    from leadscore.model.loader import parse_model

    monkeypatch.delenv("WF_TEST_UNSET", raising=False)
    with pytest.raises(ModelError, match="WF_TEST_UNSET"):
        parse_model(BASE_MODEL + """workflows:
  - name: x
    on: {enters_tier: warm}
    do:
      - webhook: {url: "https://example.com", secret: "${WF_TEST_UNSET}"}
""")


def test_standalone_worker_waits_while_another_process_holds_the_store(make_ws: MakeWs) -> None:
    with WebhookReceiver() as receiver:
        ws = make_ws(model(receiver.url))
        fire(ws, "k1")
        store = ws.open_store()  # this process holds DuckDB's write lock, as `leadscore score` would
        try:
            proc = worker(ws, "--until-idle")
            assert proc.stderr is not None
            line = proc.stderr.readline().decode()
            assert "waiting" in line and "in use" in line, line
            assert proc.poll() is None
        finally:
            store.close()
        assert proc.wait(60) == 0
        assert outbox_state(ws) and set(outbox_state(ws).values()) == {"delivered"}
        assert len(receiver.requests) == 1


def test_sigterm_stops_the_worker_cleanly(make_ws: MakeWs) -> None:
    with WebhookReceiver() as receiver:
        ws = make_ws(model(receiver.url))
        fire(ws, "k1")
        proc = worker(ws)
        deadline = time.time() + 60
        while not receiver.requests and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        assert set(outbox_state(ws).values()) == {"delivered"}
