"""``leadscore.scoring``: the one home of a score run.

A published model that fails at run time never stops the others (library, CLI, the server's
real-time path and its schedule), and a run and its settling commit together (a SIGKILL between
them leaves the previous scores, not half of the new ones).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import make_workspace
from tests.smalldata import AS_OF, SMALL_MODEL, fill_store
from tests.workflows.helpers import BASE_MODEL, set_props

import leadscore
from leadscore.api import create_app
from leadscore.api.server import ThreadedServer
from leadscore.engine import score_rowids
from leadscore.engine.run import ModelRunError, publish
from leadscore.model.loader import parse_model
from leadscore.scoring import Quarantine, score_all, score_contacts
from leadscore.storage.store import ModelVersion, Store
from leadscore.workspace import Workspace, init_workspace

# RE2 (DuckDB) refuses a look-ahead that Python's `re` accepts: this model loads, but its query
# fails inside DuckDB, the way a model that slipped past `validate` would.
BROKEN = ("version: 1\nname: broken\ngroups:\n  fit:\n    rules:\n"
          "      - {name: look-ahead, when: {property: job_title, matches: '(?=C)CEO'}, points: 5}\n")


def _publish_broken(store: Store) -> ModelVersion:
    """Publish without `validate` (which would refuse it): the engine's own publish."""
    return publish(store, parse_model(BROKEN, "broken.yml"))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "b2b.yml").unlink(missing_ok=True)
    (ws.models_dir / "small.yml").write_text(SMALL_MODEL)
    fill_store(ws)
    leadscore.publish(ws.models_dir / "small.yml", workspace=ws)
    with ws.open_store() as store:
        _publish_broken(store)
    return ws


def _scores(ws: Workspace) -> dict[tuple[str, str], float]:
    with ws.open_store(read_only=True) as store:
        rows = store.con.execute("SELECT model, contact_id, score FROM scores").fetchall()
    return {(m, c): s for m, c, s in rows}


def test_a_broken_model_is_reported_and_the_others_score(ws: Workspace) -> None:
    runs = leadscore.score(workspace=ws, as_of=AS_OF)
    assert [r.model for r in runs] == ["small"] and runs[0].contacts == 4
    [failure] = runs.failures
    assert failure.model == "broken" and failure.version == 1
    assert "invalid perl operator" in failure.error and "broken" in failure.error
    assert {m for m, _ in _scores(ws)} == {"small"}
    with ws.open_store(read_only=True) as store:  # the failed run left nothing behind
        assert store.con.execute("SELECT DISTINCT model FROM score_runs").fetchall() == [("small",)]


def test_one_contact_scores_with_the_models_that_work(ws: Workspace) -> None:
    runs = leadscore.score_one("c1", workspace=ws, as_of=AS_OF)
    assert [(r.model, r.contacts) for r in runs] == [("small", 1)]
    assert [f.model for f in runs.failures] == ["broken"]


def test_cli_score_names_the_failure_and_exits_1(ws: Workspace) -> None:
    done = subprocess.run([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-06-01", "-w", str(ws.root)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "small" in done.stdout and "4 contacts scored" in done.stdout
    assert "model `broken` v1 could not be scored" in done.stderr and "the other models were scored" in done.stderr
    assert "Traceback" not in done.stderr


def test_joined_transaction_raises_then_the_rerun_skips_the_quarantined_model(ws: Workspace) -> None:
    quarantine = Quarantine()
    with ws.open_store() as store:
        with pytest.raises(ModelRunError), store.transaction():
            score_contacts(store, ["c1"], as_of=AS_OF, quarantine=quarantine)
        assert len(quarantine) == 1
        with store.transaction():  # the caller's rerun: the broken model is skipped
            runs = score_contacts(store, ["c1"], as_of=AS_OF, quarantine=quarantine)
        assert [r.model for r in runs] == ["small"] and [f.model for f in runs.failures] == ["broken"]


def test_a_held_model_is_not_asked_of_the_row_id_map(ws: Workspace) -> None:
    """The real-time read of a contact's rows asks the server's map (``engine.score_rowids``) only
    for the models that will run: a held model has no rows, and asking for it sent every read to
    the scan."""
    quarantine = Quarantine()
    with ws.open_store() as store:
        score_all(store, as_of=AS_OF, quarantine=quarantine)  # `broken` fails: held, no rows
        hints = score_rowids.attach(store)
        try:
            with store.transaction():
                runs = score_contacts(store, ["c1"], as_of=AS_OF, quarantine=quarantine)
            assert [r.model for r in runs] == ["small"] and [f.model for f in runs.failures] == ["broken"]
            assert hints.found == 1 and hints.fell_back == 0
        finally:
            score_rowids.detach(store)


def test_quarantine_expires_and_a_new_version_is_tried_at_once(ws: Workspace) -> None:
    now = [0.0]
    with ws.open_store() as store:
        quarantine = Quarantine(seconds=600, clock=lambda: now[0])
        score_all(store, as_of=AS_OF, quarantine=quarantine)
        broken = store.get_version("broken")
        now[0] = 599
        assert quarantine.holds(broken) is not None
        now[0] = 601
        assert quarantine.holds(broken) is None  # expired: tried again
        score_all(store, as_of=AS_OF, quarantine=quarantine)
        fixed = publish(store, parse_model(BROKEN.replace("'(?=C)CEO'", "'^CEO'"), "broken.yml"))
        assert fixed.version == 2 and quarantine.holds(fixed) is None
        runs = score_all(store, as_of=AS_OF, quarantine=quarantine)
        assert sorted(r.model for r in runs) == ["broken", "small"] and not runs.failures
        assert len(quarantine) == 0  # a successful run of the model forgets its older failures


def test_the_server_keeps_taking_events_while_a_model_is_broken(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    with ws.open_store() as store:
        _publish_broken(store)
    app = create_app(ws, worker=False, scheduler=False)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        for n in range(3):  # the first finds the failure (its group reruns), the others skip it
            r = http.post("/v1/events", json={"contact_id": "c3", "type": "email_open", "event_id": f"b-{n}"})
            assert r.status_code == 200, r.text
        row = app.state.runtime.reader().con.execute(
            "SELECT count(*) FROM events WHERE event_id LIKE 'b-%'").fetchone()
        assert row == (3,)
        scored = http.get("/v1/contacts/c3").json()
        assert "small" in {s["model"] for s in scored["scores"]}
        # the schedule (and a requested full rescore) reports it too, and still scores the others
        r = http.post("/v1/score", json={})
        assert r.status_code == 200 and [run["model"] for run in r.json()] == ["small"]
        metrics = http.get("/metrics").text
        assert 'leadscore_model_failures_total{model="broken"}' in metrics
        # publishing a fixed version through the API takes it out of quarantine at once
        fixed = BROKEN.replace("'(?=C)CEO'", "'^CEO'")
        r = http.post("/v1/models", json={"text": fixed})
        assert r.status_code == 200, r.text
        assert [run["model"] for run in r.json()["runs"]] == ["broken"]
        r = http.post("/v1/events", json={"contact_id": "c3", "type": "email_open", "event_id": "b-fixed"})
        assert r.status_code == 200
        models = {s["model"] for s in http.get("/v1/contacts/c3").json()["scores"]}
        assert models == {"small", "broken"}


SET_STAGE = BASE_MODEL.replace(
    "  engagement:",
    "      - {name: stage, when: {property: lifecycle_stage, equals: salesqualifiedlead}, points: 30}\n"
    "  engagement:") + """workflows:
  - name: to sales
    on: {enters_tier: warm}
    do:
      - set: {lifecycle_stage: salesqualifiedlead}
"""


def test_sigkill_between_a_run_and_its_settling_leaves_the_previous_scores(tmp_path: Path) -> None:
    """Before, `leadscore score` committed the run and then settled in a second transaction: a kill
    in between left stale scores until the next run. Now both commit together or not at all."""
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "b2b.yml").unlink(missing_ok=True)
    (ws.models_dir / "t.yml").write_text(SET_STAGE)
    with ws.open_store() as store, store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id, email, company_size, created_at) "
                    "VALUES ('k1', 'k1@acme.com', 10, '2025-01-01')")
    leadscore.publish(ws.models_dir / "t.yml", workspace=ws)
    leadscore.score(workspace=ws, as_of=AS_OF)  # the baseline: cold
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)  # 20 points: enters warm, the workflow sets the stage
    before = _scores(ws)
    marker = tmp_path / "paused"
    env = {**os.environ, "LEADSCORE_FAULT_PAUSE": "score.before_settle", "LEADSCORE_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-06-01",
                             "-w", str(ws.root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "the run never reached its settling"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _scores(ws) == before
    with ws.open_store(read_only=True) as store:
        assert store.con.execute("SELECT lifecycle_stage FROM contacts").fetchall() == [(None,)]
        assert store.con.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    leadscore.score(workspace=ws, as_of=AS_OF)  # run again, whole: the stage is set and counted
    assert _scores(ws)[("t", "k1")] == 50.0


def test_a_set_workflow_settling_into_a_broken_model_does_not_loop(tmp_path: Path) -> None:
    """Rescoring one contact with one named model whose workflow `set`s a property: settling runs
    every model, the broken one too; it is left out once held, so the command ends (it looped)."""
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "b2b.yml").unlink(missing_ok=True)
    (ws.models_dir / "t.yml").write_text(SET_STAGE)
    with ws.open_store() as store, store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id, email, job_title, company_size, created_at) "
                    "VALUES ('k1', 'k1@acme.com', 'CEO', 10, '2025-01-01')")
    leadscore.publish(ws.models_dir / "t.yml", workspace=ws)
    leadscore.score(workspace=ws, as_of=AS_OF)
    with ws.open_store() as store:
        _publish_broken(store)
        set_props(store, "k1", company_size=500)  # enters warm: the workflow sets the stage
    done = subprocess.run([sys.executable, "-m", "leadscore", "score", "--contact", "k1", "--model", "t",
                           "--as-of", "2025-06-01", "-w", str(ws.root)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _scores(ws)[("t", "k1")] == 55.0  # CEO 5 + big 20, fired, settled: + the stage's 30


def test_a_failing_model_leaves_the_database_settings_as_they_were(ws: Workspace) -> None:
    """A whole-base run lets DuckDB write unordered; the setting is global, so it must be reset
    even when a run fails (the RESET used to fail inside the aborted transaction)."""
    with ws.open_store() as store:
        store.con.execute("UPDATE model_versions SET model = 'zz_broken' WHERE model = 'broken'")  # runs last
        before = store.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        runs = score_all(store, as_of=AS_OF)
        assert [f.model for f in runs.failures] == ["zz_broken"]
        assert store.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == before


def test_an_empty_list_of_models_means_every_model_as_before(ws: Workspace) -> None:
    with ws.open_store() as store:
        assert [r.model for r in score_all(store, as_of=AS_OF, models=[])] == ["small"]
        assert [r.model for r in score_contacts(store, ["c1"], as_of=AS_OF, models=[])] == ["small"]


def test_running_out_of_memory_is_not_the_model_s_fault(tmp_path: Path) -> None:
    """Memory, disk or connection errors fail the run as they are; only errors of the model's own
    query put it in quarantine (a memory spike used to silence real-time rescoring for 10 min)."""
    import duckdb

    from leadscore.demo.generator import generate, load_into_store

    ws = init_workspace(tmp_path / "ws")
    data = generate(3000, 60000, seed=3)
    quarantine = Quarantine()
    with ws.open_store() as store:
        load_into_store(store, data)
        publish(store, parse_model((ws.models_dir / "b2b.yml").read_text(), "b2b.yml"))
        store.con.execute("SET memory_limit = '2MB'")
        with pytest.raises(duckdb.OutOfMemoryException):
            score_all(store, as_of=data.as_of, quarantine=quarantine)
    assert len(quarantine) == 0


def test_publishing_a_model_the_engine_cannot_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation is the first line; should a model pass it and still fail in the engine, the
    publish is refused with the engine's message and nothing is recorded."""
    from leadscore.api import routes_models

    monkeypatch.setattr(routes_models, "validate_against_store", lambda loaded, store: [])  # let it through
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        r = http.post("/v1/models", json={"text": BROKEN})
        assert r.status_code == 422, r.text
        assert "could not score this model" in r.text and "invalid perl operator" in r.text
        assert [m["model"] for m in http.get("/v1/models").json()] == ["small"]
        r = http.post("/v1/score", json={})
        assert r.status_code == 200 and "Leadscore-Failed-Models" not in r.headers

