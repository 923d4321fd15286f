"""The rescoring schedule inside the server: decay and inactivity rescored without any event."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from tests.api.conftest import make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer
from leadscore.storage.store import Store
from leadscore.workspace import Workspace


def test_the_schedule_from_leadscore_yml_rescores_everyone(tmp_path: Path) -> None:
    ws, _ = make_workspace(tmp_path / "ws")
    settings = ws.root / "leadscore.yml"
    text = settings.read_text().replace("rescore_every_minutes: 60", "rescore_every_minutes: 0.02")
    assert text != settings.read_text()
    settings.write_text(text)
    ws = Workspace.load(ws.root)
    assert ws.settings.server.rescore_every_minutes == 0.02  # 1.2 s
    with ThreadedServer(create_app(ws, worker=False)) as server:
        for _ in range(100):
            if httpx.get(f"{server.url}/healthz").json()["last_scheduled_rescore"]:
                break
            time.sleep(0.1)
        assert httpx.get(f"{server.url}/healthz").json()["last_scheduled_rescore"]
        assert 'leadscore_rescore_seconds_count{kind="scheduled"}' in httpx.get(f"{server.url}/metrics").text
    with Store.open(ws.store_path, read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM score_runs WHERE scope = 'all'").fetchone()
    assert row is not None and row[0] >= 2  # the fixture's run, then the scheduled one(s)
