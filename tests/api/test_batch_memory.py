"""The server's copy of the events by contact (``storage.events_by_contact``) stays the table's rows
through the writer's life: concurrent batches, a group rolled back and rerun job by job, single
events, and a restart; and batches rescored from it get the scores the compiled query gives."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer
from leadscore.api.values import NewEvent
from leadscore.api.writer import Weighted, WriteContext
from leadscore.api.writes import write_events
from leadscore.engine.run import compiled_sql, model_of
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow


def _rows(con: Any, ids: list[str], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return sorted(con.execute(f"SELECT contact_id, {', '.join(columns)} FROM events "
                              "WHERE contact_id IN (SELECT unnest(?))", [ids]).fetchall(), key=repr)


def _check(store: Store, reader: Store) -> None:
    memory = store.events_memory
    assert memory is not None and memory.usable(reader), "the copy no longer holds the table's rows"
    ids = [r[0] for r in reader.con.execute("SELECT DISTINCT contact_id FROM events").fetchall()]
    held = memory.rows(ids).select(["contact_id", *memory.columns]).to_pylist()
    assert sorted((tuple(r.values()) for r in held), key=repr) == _rows(reader.con, ids, memory.columns)


def _scores_are_the_compiled_query(reader: Store) -> None:
    """Every contact the batches rescored holds the compiled query's score at its stored as-of."""
    version = reader.latest_versions()[0]
    model = model_of(version)
    for as_of, ids in reader.con.execute(
            "SELECT as_of, list(contact_id) FROM scores WHERE model = ? GROUP BY as_of ORDER BY as_of DESC",
            [version.model]).fetchall()[:5]:
        want = {r[0]: (r[1], r[2]) for r in reader.con.execute(compiled_sql(reader, model, as_of)).fetchall()}
        for cid, score, tier in reader.con.execute(
                "SELECT contact_id, score, tier FROM scores WHERE model = ? AND contact_id IN (SELECT unnest(?))",
                [version.model, ids]).fetchall():
            assert abs(score - want[cid][0]) < 1e-9 and tier == want[cid][1], cid


def test_the_copy_follows_every_write_and_batches_score_as_the_compiled_query(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    rt = app.state.runtime
    rng = random.Random(4)
    with ThreadedServer(app) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60) as client:
        assert rt.store.events_memory is not None and rt.memory_seconds > 0
        contacts = [r[0] for r in rt.reader().con.execute("SELECT contact_id FROM contacts").fetchall()]

        def batch(n: int) -> int:
            events = [{"event_id": f"b{n}-{i}", "contact_id": rng.choice([*contacts, f"new-{n}"]),
                       "type": rng.choice(["page_view", "email_open", "demo_request"])} for i in range(40)]
            return client.post("/v1/events", json={"events": events}).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(batch, range(12))) == {200}
        assert client.post("/v1/events", json={"contact_id": contacts[0], "type": "email_open"}).status_code == 200

        # a group that fails after writing events: rolled back, its jobs rerun one by one
        started = threading.Event()

        def slow(ctx: WriteContext) -> None:
            started.set()
            time.sleep(0.3)  # the jobs below queue meanwhile and run as one group

        def good(ctx: WriteContext) -> None:
            written = write_events(ctx.store, [NewEvent("g-1", contacts[1], None, "page_view", utcnow(), {})],
                                   rt.event_columns, now=utcnow())
            ctx.rescore_later(written.rescore)

        def bad(ctx: WriteContext) -> None:
            write_events(ctx.store, [NewEvent("x-1", contacts[2], None, "page_view", utcnow(), {})],
                         rt.event_columns, now=utcnow())
            raise ValueError("this job fails after writing")

        first = rt.write(Weighted(slow, 100))
        started.wait(5)
        done, failed = rt.write(Weighted(good, 100)), rt.write(Weighted(bad, 100))
        first.result(10)
        done.result(10)
        assert isinstance(failed.exception(10), ValueError)
        reader = rt.reader()
        assert reader.con.execute("SELECT count(*) FROM events WHERE event_id IN ('g-1', 'x-1')").fetchall() == [(1,)]
        _check(rt.store, reader)

        _scores_are_the_compiled_query(reader)
    # a new start builds the copy again from the table
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app):
        _check(app.state.runtime.store, app.state.runtime.reader())


def test_a_copy_that_cannot_be_built_leaves_the_server_reading_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: more than 2 GiB of one text column (unique URLs at 20-40M events) raised
    ArrowCapacityError out of the build, and the server did not start."""
    import pyarrow as pa

    from leadscore.storage.events_by_contact import EventsByContact

    def too_big(*args: object) -> None:
        raise pa.ArrowCapacityError("array cannot contain more than 2147483646 bytes")

    monkeypatch.setattr(EventsByContact, "build", classmethod(lambda cls, *a: too_big()))
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60) as client:
        assert app.state.runtime.store.events_memory is None
        contact = app.state.runtime.reader().con.execute("SELECT min(contact_id) FROM contacts").fetchall()[0][0]
        events = [{"event_id": f"t-{i}", "contact_id": contact, "type": "page_view"} for i in range(40)]
        assert client.post("/v1/events", json={"events": events}).status_code == 200


def test_single_events_beside_an_open_batch_leave_the_copy_whole(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's side lane (api/writer.py) commits single events on its own connection while a
    batch's transaction is open on the main one. The copy follows both (before, the first single
    event on the side lane dropped it for good: the main lane's row count no longer matched), a
    rollback of either lane drops that lane's rows only, and the batches after read their events
    from it again and score as the compiled query."""
    from leadscore.storage.events_by_contact import EventsByContact

    answers: list[bool] = []
    copy_into = EventsByContact.copy_into

    def watched(self: EventsByContact, *args: Any) -> bool:
        answers.append(copy_into(self, *args))
        return answers[-1]

    monkeypatch.setattr(EventsByContact, "copy_into", watched)
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    rt = app.state.runtime
    with ThreadedServer(app) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60) as client:
        contacts = sorted(r[0] for r in rt.reader().con.execute("SELECT contact_id FROM contacts").fetchall())
        # the batches: enough contacts for the compiled query over the copy (not the reference scorer)
        batch_side, single_side = [*contacts[:2], *(f"hb{i}" for i in range(38))], [*contacts[2:], "fresh-1"]

        def held_batch(tag: str, hold: threading.Event, running: threading.Event, fail: bool) -> Weighted:
            def job(ctx: WriteContext) -> None:
                events = [NewEvent(f"{tag}-{i}", cid, None, "demo_request", utcnow(), {})
                          for i, cid in enumerate(batch_side)]
                written = write_events(ctx.store, events, rt.event_columns, now=utcnow())
                ctx.rescore_later(written.rescore)
                running.set()
                assert hold.wait(20)
                if fail:
                    raise ValueError("the batch fails after writing")
            return Weighted(job, len(batch_side), heavy=True, keys={f"c:{c}" for c in batch_side})

        for n, fail in enumerate((False, True)):  # a batch that commits, then one rolled back
            hold, running = threading.Event(), threading.Event()
            batch = rt.write(held_batch(f"held{n}", hold, running, fail))
            assert running.wait(20)
            sides = rt.writer.side_groups
            for i, cid in enumerate(single_side):
                r = client.post("/v1/events", json={"event_id": f"one{n}-{i}", "contact_id": cid, "type": "page_view"})
                assert r.status_code == 200, r.text
            # and a single event whose job fails after writing: the side lane rolls it back
            def undone(ctx: WriteContext, n: int = n) -> None:
                write_events(ctx.store, [NewEvent(f"undone{n}", single_side[0], None, "page_view", utcnow(), {})],
                             rt.event_columns, now=utcnow())
                raise ValueError("this single event fails after writing")
            assert isinstance(rt.write(Weighted(undone, 1, keys={f"c:{single_side[0]}"})).exception(20), ValueError)
            assert not batch.done() and rt.writer.side_groups > sides  # committed beside the open batch
            hold.set()
            if fail:
                assert isinstance(batch.exception(20), ValueError)
            else:
                assert batch.result(20) is None
            _check(rt.store, rt.reader())
        reader = rt.reader()
        assert reader.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'held0-%'").fetchall() == [(40,)]
        assert reader.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'held1-%' "
                                  "OR event_id LIKE 'undone%'").fetchall() == [(0,)]
        reads = len(answers)
        events = [{"event_id": f"after-{i}", "contact_id": [*contacts, *batch_side][i % 45], "type": "email_open"}
                  for i in range(90)]
        assert client.post("/v1/events", json={"events": events}).status_code == 200
        assert len(answers) > reads and all(answers), "a batch read the table, not the copy"
        memory = rt.store.events_memory
        assert memory is not None and not memory.broken
        _check(rt.store, reader)
        _scores_are_the_compiled_query(reader)
