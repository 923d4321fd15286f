"""The leads list's rows of API writes, written after the write (``storage.lead_rows_later``): the
event's transaction only marks its contacts, the server refreshes them moments later, a crash
before the refresh loses nothing (the next start refreshes), and ``list_refresh_seconds: 0``
writes them in the event's transaction as before."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import make_workspace
from tests.api.test_crash import _serve
from tests.storage.test_lead_rows import _rows

from leadscore.api import create_app
from leadscore.api.runtime import ApiRuntime
from leadscore.api.server import ThreadedServer, free_port
from leadscore.storage import lead_rows, lead_rows_later
from leadscore.storage.store import Store

BATCH = {"events": [{"contact_id": "c3", "type": "demo_request"},  # crosses into sql
                    {"contact_id": "c1", "type": "page_view", "properties": {"url": "/pricing"}},
                    {"email": "brand-new@example.com", "type": "page_view"}]}


def _fresh(store: Store) -> bool:
    return _rows(store, f"SELECT * FROM {lead_rows.TABLE}") == _rows(store, lead_rows.expected_sql(store.con))


def _marked(store: Store) -> set[str]:
    return {str(r[0]) for r in store.con.execute(f"SELECT contact_id FROM {lead_rows_later.MARKED}").fetchall()}


def _tier_in_list(store: Store, cid: str) -> Any:
    row = store.con.execute(f"SELECT tier FROM {lead_rows.TABLE} WHERE contact_id = ?", [cid]).fetchone()
    return row[0] if row else None


def test_an_event_marks_its_contacts_and_the_refresh_writes_their_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    ws.settings.server.list_refresh_seconds = 60.0
    monkeypatch.setattr(lead_rows_later, "IDLE", 60.0)  # not refreshed until the test asks
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        rt: ApiRuntime = app.state.runtime
        r = httpx.post(f"{server.url}/v1/events", json=BATCH, headers={"Authorization": f"Bearer {keys['write']}"})
        assert r.status_code == 200, r.text
        new = r.json()["events"][2]["contact_id"]
        store = rt.reader()
        # committed with the event: its scores and the marks; the list's rows are not written yet
        assert store.con.execute("SELECT tier FROM scores WHERE contact_id = 'c3'").fetchone() == ("sql",)
        assert _marked(store) == {"c1", "c3", new}
        assert _tier_in_list(store, "c3") != "sql" and _tier_in_list(store, new) is None and not _fresh(store)
        assert rt.refresh_list_rows().result(timeout=30) == 3
        assert _fresh(store) and _marked(store) == set() and _tier_in_list(store, "c3") == "sql"


def test_the_server_refreshes_on_its_own_within_the_bound(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        rt: ApiRuntime = app.state.runtime
        assert rt.list_marks is not None and rt.list_marks.every == 2.0  # the default
        r = httpx.post(f"{server.url}/v1/events", json=BATCH, headers={"Authorization": f"Bearer {keys['write']}"})
        assert r.status_code == 200, r.text
        posted = time.monotonic()
        store = rt.reader()
        while not (_fresh(store) and not _marked(store)):
            # the documented bound (``every``, 2 s) and a second of slack for a loaded machine
            assert time.monotonic() - posted < rt.list_marks.every + 1.0, "the list's rows were not refreshed"
            time.sleep(0.02)
        assert rt.list_marks.refreshed == 3 and _tier_in_list(store, "c3") == "sql"


def test_a_refresh_failing_at_start_does_not_stop_the_server_and_is_tried_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is a view of the scores: a failing refresh of a crash's leftovers at start is logged
    and retried by the writer, the server serves (it used to fail to start)."""
    ws, keys = make_workspace(tmp_path / "ws")
    real = lead_rows_later.refresh
    calls: list[int] = []

    def failing_once(con: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the refresh failed")
        return real(con)

    with Store.open(ws.store_path) as store, store.transaction() as con:  # a crash's leftover mark
        con.execute(f"INSERT INTO {lead_rows_later.MARKED} VALUES ('c1')")
    monkeypatch.setattr(lead_rows_later, "refresh", failing_once)
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        rt: ApiRuntime = app.state.runtime
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        store = rt.reader()
        started = time.monotonic()
        while _marked(store):
            assert time.monotonic() - started < 10, "the leftover mark was not refreshed"
            time.sleep(0.02)
        assert len(calls) >= 2 and _fresh(store)


def test_list_refresh_seconds_zero_writes_the_rows_with_the_event(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    ws.settings.server.list_refresh_seconds = 0
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        rt: ApiRuntime = app.state.runtime
        r = httpx.post(f"{server.url}/v1/events", json=BATCH, headers={"Authorization": f"Bearer {keys['write']}"})
        assert r.status_code == 200, r.text
        store = rt.reader()
        assert rt.list_marks is None and _marked(store) == set() and _fresh(store)


def test_a_server_killed_before_the_refresh_refreshes_at_its_next_start(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    marker = tmp_path / "paused"
    port = free_port()
    proc = _serve(ws.root, port, {"LEADSCORE_FAULT_PAUSE": "lead_rows.refresh", "LEADSCORE_FAULT_MARKER": str(marker)})
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/events", json=BATCH,
                       headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60)
        assert r.status_code == 200, r.text
        for _ in range(300):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "the refresh never started"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    new = r.json()["events"][2]["contact_id"]
    with Store.open(ws.store_path) as store:  # as the crash left it: scores and marks, stale rows
        assert store.con.execute("SELECT tier FROM scores WHERE contact_id = 'c3'").fetchone() == ("sql",)
        assert _marked(store) == {"c1", "c3", new} and not _fresh(store)
    started = threading.Event()
    rt = ApiRuntime(ws, worker=False, scheduler=False)
    try:
        rt.start()
        started.set()
        store = rt.reader()
        assert _marked(store) == set() and _fresh(store) and _tier_in_list(store, "c3") == "sql"
    finally:
        rt.stop()
