"""The server at scale: real-time scores equal a batch run's, a full rescoring does not hold writes
back, and a crash in the middle of one leaves a store a whole-base run could have left.

Speed itself is measured by ``make bench-api-large``; these tests check behaviour.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer
from leadscore.engine.run import compiled_sql, model_of
from leadscore.storage.store import Store


def _consistent(path: Path) -> dict[str, int]:
    """Every stored score is the batch query's for its contact at its own as-of, and the contact's
    latest history row says the same: what any committed state must satisfy."""
    with Store.open(path, read_only=True) as store:
        rows = store.con.execute("SELECT model, contact_id, score, tier, as_of FROM scores").fetchall()
        as_ofs: dict[str, int] = {}
        for model_name, cid, score, tier, as_of in rows:
            model = model_of(store.get_version(model_name))
            [(_, want, want_tier, *_)] = store.con.execute(
                compiled_sql(store, model, as_of, contact_id=cid)).fetchall()
            assert (score, tier) == (pytest.approx(want, abs=1e-9), want_tier), (cid, as_of)
            last = store.con.execute(
                "SELECT score, tier FROM score_history WHERE model = ? AND contact_id = ? "
                "ORDER BY computed_at DESC LIMIT 1", [model_name, cid]).fetchone()
            assert last is not None and last[1] == tier and last[0] == pytest.approx(score, abs=1e-9)
            as_ofs[str(as_of)] = as_ofs.get(str(as_of), 0) + 1
        dupes = store.con.execute(
            "SELECT count(*) - count(DISTINCT (model, contact_id)) FROM scores").fetchone()
        assert dupes == (0,)
    return as_ofs


def test_events_are_written_while_a_full_rescoring_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rescoring's query is paused (a fault point) with nothing written yet: an event posted
    meanwhile commits at once, rescored; then the rescoring finishes and keeps that newer score."""
    ws, keys = make_workspace(tmp_path / "ws")
    marker = tmp_path / "paused"
    monkeypatch.setenv("LEADSCORE_FAULT_PAUSE", "score.staged")
    monkeypatch.setenv("LEADSCORE_FAULT_MARKER", str(marker))
    monkeypatch.setenv("LEADSCORE_FAULT_SECONDS", "4")
    outcome: dict[str, Any] = {}
    with ThreadedServer(create_app(ws, worker=False, scheduler=False)) as server:
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        write = {"Authorization": f"Bearer {keys['write']}"}

        def rescore() -> None:
            r = httpx.post(f"{server.url}/v1/score", json={}, headers=admin, timeout=60)
            outcome["status"], outcome["runs"] = r.status_code, r.json()

        thread = threading.Thread(target=rescore)
        thread.start()
        for _ in range(200):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "the rescoring never reached its pause"
        started = time.monotonic()
        r = httpx.post(f"{server.url}/v1/events", json={"contact_id": "c2", "type": "demo_request"},
                       headers=write, timeout=60)
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert thread.is_alive() and took < 3.5  # answered while the rescoring still waited
        event_score = r.json()["scores"][0]
        thread.join(60)
    assert outcome["status"] == 200
    [run] = outcome["runs"]
    assert run["scope"] == "all" and run["contacts"] == 5
    with Store.open(ws.store_path, read_only=True) as store:
        [(score, as_of)] = store.con.execute(
            "SELECT score, as_of FROM scores WHERE contact_id = 'c2'").fetchall()
    assert score == event_score["score"] and as_of.isoformat() == event_score["as_of"].rstrip("Z")[:26]
    _consistent(ws.store_path)


SCRIPT = """
import sys
from leadscore import scoring
from leadscore.scoring import score_all_staged
from leadscore.storage.store import Store
from leadscore.timeutil import parse_as_of
scoring.FIRST_PART = scoring.MIN_PART = scoring.MAX_PART = 1
store = Store.open(sys.argv[1])
reader = store.cursor()

def write(fn):
    with store.transaction():
        return fn(store)

score_all_staged(reader, write, as_of=parse_as_of(sys.argv[2]))
"""


@pytest.mark.parametrize("point", ["score.between_parts", "score.part_before_settle"])
def test_sigkill_in_a_full_rescoring_leaves_a_state_a_run_could_leave(tmp_path: Path, point: str) -> None:
    ws, _ = make_workspace(tmp_path / "ws")
    before = _consistent(ws.store_path)
    marker = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(ws.store_path), "2025-06-20"],
                            env={**os.environ, "LEADSCORE_FAULT_PAUSE": point, "LEADSCORE_FAULT_MARKER": str(marker)})
    for _ in range(600):
        if marker.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert marker.exists(), "the run never reached the fault point"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = _consistent(ws.store_path)
    assert sum(after.values()) == sum(before.values())
    if point == "score.between_parts":  # the first part committed: one contact is as of the new instant
        assert after.get("2025-06-20 00:00:00") == 1
    else:  # killed inside the first part's transaction: nothing of the run
        assert after == before
    with Store.open(ws.store_path, read_only=True) as store:  # the run never recorded itself as done
        assert store.con.execute(
            "SELECT count(*) FROM score_runs WHERE as_of = '2025-06-20' AND scope = 'all'").fetchone() == (0,)
