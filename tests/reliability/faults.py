"""Faults: ``kill -9`` at random moments of the four processes that write, then the invariants.

* **import**: ``leadscore import`` of an update to every contact, killed at a random moment of the
  whole command (staging, checks, the transaction, its COMMIT, the closing checkpoint). Partial
  state: a mix of old and new rows, or an ``imports`` record without its rows (or the reverse).
* **score**: ``leadscore score`` 60 days after the last run on a store whose model's workflows
  ``set`` a property the model reads, so every run has a settle step. Killed at a random moment,
  or (one in three) right after its first COMMIT: between the run and its settle step. Partial
  state: scores of two as-ofs, a run without its history / actions / tasks (or the reverse), or a
  contact a ``set`` changed whose score was not recomputed after the change (stale).
* **server**: ``leadscore serve`` under single events and batches, killed at a random moment.
  Partial state: an event without its contact's rescoring (the score's as-of before the event).
  Lost: an event whose 200 the client received but that is not stored.
* **worker**: ``leadscore worker`` delivering webhooks to a real, slow receiver, killed at a random
  moment, restarted, until every action is delivered. Lost: an action never delivered. Duplicates
  (at-least-once) are counted; each must carry the same Idempotency-Key and body as the first.

After every kill the store must open, and the same command, rerun, must finish.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
from tests.reliability.common import Figures, served, write_key
from tests.workflows.receivers import WebhookReceiver

from leadscore.storage.store import Store

PY = [sys.executable, "-m", "leadscore"]
BASE_AS_OF = datetime(2026, 1, 1)
LATER = BASE_AS_OF + timedelta(days=60)


def _model(hook_url: str) -> str:
    return f"""version: 1
name: rel
tiers: {{cold: 0, warm: 15, hot: 30}}
groups:
  fit:
    rules:
      - {{name: title, when: {{property: job_title, in: [CEO, CMO, VP Sales, Head of Sales]}}, points: 10}}
      - {{name: cooled, when: {{property: lifecycle_stage, equals: cooled}}, points: -3}}
  engagement:
    decay: {{half_life_days: 20}}
    rules:
      - {{name: opens, when: {{event: email_open}}, points_per_event: 3, max: 15}}
      - {{name: visits, when: {{event: page_view}}, points_per_event: 2, max: 20}}
      - {{name: demo, when: {{event: demo_request}}, points: 15}}
workflows:
  - name: cooled down
    on: {{leaves_tier: hot}}
    do:
      - webhook: {{url: "{hook_url}", secret: s, timeout_seconds: 5}}
      - task: {{for: owner, title: "Check on {{{{ contact.first_name }}}}"}}
      - set: {{lifecycle_stage: cooled}}
"""


def _base_store(workdir: Path, hook_url: str, contacts: int, events: int) -> Path:
    """A workspace of generated leads, its model published and scored at BASE_AS_OF."""
    import leadscore
    from leadscore.demo.generator import generate, load_into_store

    root = workdir / "faults-base"
    if root.exists():
        shutil.rmtree(root)
    ws = leadscore.init(root)
    for starter in ws.models_dir.glob("*.yml"):
        starter.unlink()
    (ws.models_dir / "rel.yml").write_text(_model(hook_url))
    with ws.open_store() as store:
        load_into_store(store, generate(contacts, events, seed=11, end=BASE_AS_OF))
    leadscore.publish(ws.models_dir / "rel.yml", workspace=root)
    leadscore.score(workspace=root, as_of=BASE_AS_OF, predict=False)
    return root


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def _run_and_kill(args: list[str], delay: float, *, env: dict[str, str] | None = None,
                  mark: str | None = None, marker: Path | None = None) -> bool:
    """Start ``args``; SIGKILL it ``delay`` s after start (or after ``mark`` is reached). False: it ended first."""
    extra = {"LEADSCORE_FAULT_MARK": mark, "LEADSCORE_FAULT_MARKER": str(marker)} if mark and marker else {}
    if marker:
        marker.unlink(missing_ok=True)
    proc = subprocess.Popen(args, env={**os.environ, **(env or {}), **extra}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if mark and marker:
        while not marker.exists() and proc.poll() is None:
            time.sleep(0.001)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _timed(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, env={**os.environ, **(env or {})}, check=True, capture_output=True)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- import


def _import_faults(workdir: Path, kills: int, rng: random.Random, rows: int) -> tuple[int, int, list[str]]:
    root = workdir / "faults-import"
    import leadscore

    if root.exists():
        shutil.rmtree(root)
    leadscore.init(root)
    for title, name in (("Old", "old.csv"), ("New", "new.csv")):
        duckdb.sql(f"COPY (SELECT 'c' || i AS contact_id, 'u' || i || '@x.com' AS email, '{title} ' || (i % 50) "
                   f"AS job_title FROM range({rows}) t(i)) TO '{workdir / name}' (HEADER)")
    subprocess.run([*PY, "import", "contacts", str(workdir / "old.csv"), "-w", str(root)], check=True,
                   capture_output=True)
    args = [*PY, "import", "contacts", str(workdir / "new.csv"), "-w"]
    span = _timed([*args, str(_copy(root, workdir / "faults-import-t"))])
    killed, partial, notes = 0, 0, []
    for n in range(3 * kills):  # until `kills` kills landed (a kill drawn after the end lands nowhere)
        if killed >= kills:
            break
        ws = _copy(root, workdir / "faults-import-k")
        killed += _run_and_kill([*args, str(ws)], rng.uniform(0, span))
        with Store.open(ws / "leadscore.duckdb") as store:  # opens (recovers the WAL) and may write
            total, new, imports = store.con.execute(
                "SELECT count(*), count(*) FILTER (job_title LIKE 'New%'), (SELECT count(*) FROM imports) "
                "FROM contacts").fetchone() or (0, 0, 0)
            keys = store.check_keys()
        if total != rows or new not in (0, rows) or imports != (2 if new else 1) or any(keys.values()):
            partial += 1
            notes.append(f"import kill {n}: {total} rows, {new} new, {imports} imports, {keys}")
        subprocess.run([*args, str(ws)], check=True, capture_output=True)  # the same command goes through
    return killed, partial, notes


# --------------------------------------------------------------------------- score


def _score_state(db: Path) -> tuple[list[str], dict[str, Any]]:
    """Partial-state findings of a store after ``leadscore score --as-of LATER`` was killed."""
    problems = []
    with Store.open(db) as store:
        con = store.con
        as_ofs = [r[0] for r in con.execute("SELECT DISTINCT as_of FROM scores WHERE model = 'rel'").fetchall()]
        if len(as_ofs) != 1:
            problems.append(f"scores of {len(as_ofs)} as-ofs")
        runs = con.execute("SELECT run_id, changed FROM score_runs WHERE as_of = ? AND scope = 'all'",
                           [LATER]).fetchall()
        for run_id, changed in runs:
            history = con.execute("SELECT count(*) FROM score_history WHERE run_id = ?", [run_id]).fetchone()
            if history and changed is not None and history[0] != changed:
                problems.append(f"run {run_id}: {history[0]} history rows for {changed} changes")
        run_ids = [r[0] for r in runs]
        for table in ("outbox", "tasks", "property_changes"):
            orphans = con.execute(f"SELECT count(*) FROM {table} WHERE run_id IS NOT NULL AND run_id NOT IN "
                                  "(SELECT run_id FROM score_runs)").fetchone()
            if orphans and orphans[0]:
                problems.append(f"{orphans[0]} {table} rows of a run that is not recorded")
        stale = con.execute(
            "SELECT count(*) FROM property_changes p JOIN scores s USING (contact_id) "
            "WHERE p.source LIKE 'workflow:%' AND s.model = 'rel' AND s.computed_at < p.changed_at").fetchone()
        if stale and stale[0]:
            problems.append(f"{stale[0]} contacts changed by `set` keep a score from before the change")
        info = {"runs": len(run_ids), "as_of": str(as_ofs[0]) if len(as_ofs) == 1 else as_ofs}
    return problems, info


def _score_faults(workdir: Path, base: Path, kills: int, rng: random.Random) -> tuple[int, int, list[str], int]:
    args = [*PY, "score", "--as-of", LATER.isoformat(), "-w"]
    env = {"SALES_HOOK_URL": "http://127.0.0.1:9/none"}
    span = _timed([*args, str(_copy(base, workdir / "faults-score-t"))], env)
    fired = 0
    with Store.open(workdir / "faults-score-t" / "leadscore.duckdb", read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM property_changes WHERE source LIKE 'workflow:%'").fetchone()
        fired = int(row[0]) if row else 0
    killed, partial, notes = 0, 0, []
    marker = workdir / "score-marker"
    for n in range(3 * kills):
        if killed >= kills:
            break
        ws = _copy(base, workdir / "faults-score-k")
        if n % 3 == 2:  # just after the run's COMMIT: between the run and its settle step
            killed += _run_and_kill([*args, str(ws)], rng.uniform(0, 0.01), env=env, mark="store.commit",
                                    marker=marker)
        else:
            killed += _run_and_kill([*args, str(ws)], rng.uniform(0, span), env=env)
        problems, _ = _score_state(ws / "leadscore.duckdb")
        if problems:
            partial += 1
            notes.append(f"score kill {n}: " + "; ".join(problems))
        subprocess.run([*args, str(ws)], env={**os.environ, **env}, check=True, capture_output=True)
        after, _ = _score_state(ws / "leadscore.duckdb")
        if after:
            notes.append(f"score kill {n}, after a rerun: " + "; ".join(after))
            partial += 1
    return killed, partial, notes, fired


# --------------------------------------------------------------------------- server


def _server_faults(workdir: Path, base: Path, kills: int, rng: random.Random) -> tuple[int, int, int, list[str], int]:
    root = _copy(base, workdir / "faults-server")
    key = write_key(root)
    with Store.open(root / "leadscore.duckdb", read_only=True) as store:
        ids = [r[0] for r in store.con.execute("SELECT contact_id FROM contacts").fetchall()]
    acked: set[str] = set()
    killed, partial, lost, notes = 0, 0, 0, []
    for n in range(kills):
        stop = threading.Event()
        with served(root) as (url, proc):
            clients = [(f"{n}-s{t}", 1) for t in range(2)] + [(f"{n}-b{t}", 200) for t in range(2)]
            threads = [threading.Thread(target=_send, args=(url, key, tag, size, ids, stop, acked,
                                                            random.Random(rng.random())))
                       for tag, size in clients]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 2.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
            stop.set()
            for t in threads:
                t.join(30)
        with Store.open(root / "leadscore.duckdb") as store:
            stored = {r[0] for r in store.con.execute(
                "SELECT event_id FROM events WHERE event_id LIKE 'srv-%'").fetchall()}
            behind = store.con.execute(
                "SELECT count(*) FROM (SELECT contact_id, max(occurred_at) AS last FROM events "
                "WHERE event_id LIKE 'srv-%' GROUP BY ALL) e JOIN scores s USING (contact_id) "
                "WHERE s.model = 'rel' AND s.as_of < e.last").fetchone()
        missing = acked - stored
        if missing:
            lost += len(missing)
            notes.append(f"server kill {n}: {len(missing)} acknowledged events not stored")
        if behind and behind[0]:
            partial += 1
            notes.append(f"server kill {n}: {behind[0]} contacts scored before their stored events")
    with served(root) as (url, _proc):  # the server starts again on the store it was killed on
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    return killed, partial, lost, notes, len(acked)


def _send(url: str, key: str, tag: str, size: int, ids: list[str], stop: threading.Event, acked: set[str],
          rng: random.Random) -> None:
    """Post events (one, or batches of ``size``) until ``stop`` or the server dies; record the 200s."""
    i = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        while not stop.is_set():
            i += 1
            events = [{"event_id": f"srv-{tag}-{i}-{j}", "contact_id": rng.choice(ids), "type": "page_view"}
                      for j in range(size)]
            try:
                r = client.post("/v1/events", json=events[0] if size == 1 else {"events": events})
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked.update(e["event_id"] for e in events)


# --------------------------------------------------------------------------- worker


def _worker_faults(workdir: Path, kills: int, rng: random.Random, contacts: int,
                   events: int) -> tuple[int, int, dict[str, int], int, list[str]]:
    with WebhookReceiver(secret="s", delay=0.02) as receiver:
        receiver.server.handle_error = lambda *a: None  # type: ignore[method-assign]  # killed mid-request
        base = _base_store(workdir, receiver.url, contacts, events)
        root = _copy(base, workdir / "faults-worker")
        subprocess.run([*PY, "score", "--as-of", LATER.isoformat(), "-w", str(root)], check=True,
                       capture_output=True)
        with Store.open(root / "leadscore.duckdb", read_only=True) as store:
            actions = {r[0]: r[1] for r in store.con.execute("SELECT action_id, payload FROM outbox").fetchall()}
        args = [*PY, "worker", "-w", str(root), "--poll", "0.05"]
        killed = 0
        for _ in range(kills):
            killed += _run_and_kill(args, rng.uniform(0.5, 2.0))
        subprocess.run([*args, "--until-idle"], check=True, capture_output=True, timeout=600)
        with Store.open(root / "leadscore.duckdb", read_only=True) as store:
            status = dict(store.con.execute("SELECT status, count(*) FROM outbox GROUP BY ALL").fetchall())
        keys = collections.Counter(receiver.keys())
        notes = []
        lost = len(set(actions) - set(keys))
        if lost:
            notes.append(f"worker: {lost} actions never reached the receiver ({status})")
        duplicates = {k: n - 1 for k, n in keys.items() if n > 1}
        bodies: dict[str, set[bytes]] = collections.defaultdict(set)
        for r in receiver.requests:
            bodies[r.key].add(r.body)
        changed = [k for k, b in bodies.items() if len(b) > 1]
        if changed:
            notes.append(f"worker: {len(changed)} actions resent with another body")
        return killed, lost + len(changed), duplicates, len(actions), notes


def run_faults(workdir: Path, *, kills_each: int = 26, contacts: int = 3000, events: int = 60000,
               import_rows: int = 200_000, seed: int = 5) -> Figures:
    rng = random.Random(seed)
    fig = Figures(f"faults: kill -9 at random moments ({kills_each} per process kind)",
                  "make reliability (tests/reliability/faults.py)")
    base = _base_store(workdir, "http://127.0.0.1:9/none", contacts, events)
    k_imp, p_imp, notes = _import_faults(workdir, kills_each, rng, import_rows)
    k_sc, p_sc, n_sc, fired = _score_faults(workdir, base, kills_each, rng)
    k_srv, p_srv, lost_srv, n_srv, acked = _server_faults(workdir, base, kills_each, rng)
    k_wk, lost_wk, dups, actions, n_wk = _worker_faults(workdir, kills_each, rng, contacts, events)
    notes += n_sc + n_srv + n_wk
    total = k_imp + k_sc + k_srv + k_wk
    fig.figures = {
        "kills": f"{total} (import {k_imp}, score {k_sc}, server {k_srv}, worker {k_wk})",
        "partial states": p_imp + p_sc + p_srv,
        "lost": f"{lost_srv} acknowledged events (of {acked:,}), {lost_wk} actions (of {actions})",
        "score runs with a settle step": f"{fired} contacts changed by `set` per run",
        "duplicate deliveries": f"{sum(dups.values())} (each with the Idempotency-Key of its first delivery"
                                + (f": {', '.join(sorted(dups)[:5])}{', ...' if len(dups) > 5 else ''})" if dups
                                   else ")"),
    }
    for note in notes[:20]:
        fig.figures.setdefault("notes", [])
        fig.figures["notes"].append(note)
    fig.require(p_imp + p_sc + p_srv == 0, f"{p_imp + p_sc + p_srv} partial states")
    fig.require(lost_srv + lost_wk == 0, "lost events or actions")
    fig.require(total >= 4 * kills_each, f"only {total} kills landed")
    return fig


if __name__ == "__main__":
    import tempfile

    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 26
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_faults(Path(tmp), kills_each=kills).lines()), flush=True)
