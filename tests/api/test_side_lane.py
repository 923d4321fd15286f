"""Single events commit beside batches (api/writer.py, the side lane), and nothing is lost or
scored stale for it: every contact's stored score counts every one of its events, even when a
single event and a batch write the same contact at once, by its id or by its e-mail (rows the
claimed keys do not name: DuckDB's conflict, and the side lane runs again)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.api.test_batch_memory import _check, _scores_are_the_compiled_query
from tests.smalldata import fill_store

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.runtime import ApiRuntime
from leadscore.api.server import ThreadedServer
from leadscore.engine import score_rowids
from leadscore.engine.run import publish
from leadscore.model.loader import load_model
from leadscore.scoring import score_all
from leadscore.timeutil import utcnow
from leadscore.workspace import Workspace, init_workspace

#: one point per page view, no cap, no decay: a score is the count of the contact's page views
COUNTING = """\
version: 1
name: views
tiers: {cold: 0, warm: 10}
groups:
  engagement:
    rules:
      - {name: views, when: {event: page_view}, points_per_event: 1}
"""
CONTACTS = [f"n{i}" for i in range(12)]


def _workspace(root: Path) -> tuple[Workspace, str]:
    ws = init_workspace(root)
    (ws.models_dir / "views.yml").write_text(COUNTING)
    fill_store(ws)
    with ws.open_store() as store:
        publish(store, load_model(ws.models_dir / "views.yml"))
        score_all(store, as_of=utcnow())
        key = create_key(store, "write", "test")[1]
    return ws, key


def _clients(batches: Callable[[str], None], batch_clients: int, singles: Callable[[str], None],
             single_clients: int) -> None:
    """Run the clients at once (tagged ``b0``... and ``s0``...) and wait for them all."""
    threads = [threading.Thread(target=batches, args=(f"b{i}",)) for i in range(batch_clients)]
    threads += [threading.Thread(target=singles, args=(f"s{i}",)) for i in range(single_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)


def test_singles_beside_batches_lose_nothing(tmp_path: Path) -> None:
    ws, key = _workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    rt = app.state.runtime
    errors: list[str] = []
    with ThreadedServer(app) as server:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for cid in CONTACTS:  # e-mails, so single events can name a contact by it
                assert client.put(f"/v1/contacts/{cid}", json={"email": f"{cid}@side.io"}).status_code < 300

        def batches(tag: str) -> None:
            rng = random.Random(tag)
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                for n in range(6):
                    events = [{"event_id": f"{tag}-{n}-{i}", "contact_id": rng.choice(CONTACTS), "type": "page_view"}
                              for i in range(150)]
                    r = c.post("/v1/events", json={"events": events})
                    if r.status_code != 200:
                        errors.append(r.text)

        def singles(tag: str) -> None:
            rng = random.Random(tag)
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                for n in range(40):
                    cid = rng.choice(CONTACTS)
                    who = {"email": f"{cid}@side.io"} if n % 3 == 0 else {"contact_id": cid}
                    r = c.post("/v1/events", json={"event_id": f"{tag}-{n}", "type": "page_view", **who})
                    if r.status_code != 200:
                        errors.append(r.text)

        _clients(batches, 2, singles, 3)
        assert not errors
        assert rt.writer.side_groups > 0  # the single events did take the side lane
        hints = score_rowids.attached(rt.writer.side)  # and found their scores rows by row id
        assert hints is not None and hints.found > 0
        with httpx.Client(base_url=server.url, timeout=60) as c:  # and /metrics counts them
            assert 'leadscore_write_side_jobs_total{lane="side"}' in c.get("/metrics").text
        con = rt.reader().con
        views = dict(con.execute("SELECT contact_id, count(*) FROM events WHERE type = 'page_view' "
                                 "AND contact_id LIKE 'n%' GROUP BY 1").fetchall())
        scores = dict(con.execute("SELECT contact_id, score FROM scores WHERE model = 'views' "
                                  "AND contact_id LIKE 'n%'").fetchall())
        assert sum(views.values()) == 2 * 6 * 150 + 3 * 40
        assert scores == {cid: float(n) for cid, n in views.items()}  # each counts every event of its contact
        rt.refresh_list_rows().result(timeout=60)  # the list's rows follow the writes (storage.lead_rows_later)
        rows = dict(con.execute("SELECT contact_id, score FROM lead_rows WHERE model = 'views' "
                                "AND contact_id LIKE 'n%'").fetchall())
        assert rows == scores
        assert rt.store.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}
        # the copy of the events by contact followed both lanes: never dropped, still the table's rows
        memory = rt.store.events_memory
        assert memory is not None and not memory.broken
        _check(rt.store, rt.reader())
        _scores_are_the_compiled_query(rt.reader())


def test_stopping_the_server_drops_its_row_id_maps(tmp_path: Path) -> None:
    """Each writer lane's scores row-id map (engine/score_rowids.py) lives as long as the server:
    ``ApiRuntime.stop`` lets both go (a store given to the runtime outlives it)."""
    ws, _ = _workspace(tmp_path / "ws")
    with ws.open_store() as store:
        rt = ApiRuntime(ws, worker=False, scheduler=False, store=store).start()
        assert rt.writer is not None and rt.writer.side is not None
        lanes = [store, rt.writer.side]
        assert all(score_rowids.attached(lane) is not None for lane in lanes)
        rt.stop()
        assert all(score_rowids.attached(lane) is None for lane in lanes)
