"""A real server on a free loopback port (uvicorn in a thread), over a real workspace and store.

The server is shared by a test module (starting one costs a second); tests use their own contact
ids so they do not depend on each other's writes, except where they read c1..c5 of smalldata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.smalldata import SMALL_MODEL, fill_store

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.runtime import ApiRuntime
from leadscore.api.server import ThreadedServer
from leadscore.engine.run import publish
from leadscore.model.loader import load_model
from leadscore.scoring import score_all
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.workspace import Workspace, init_workspace


@dataclass
class Api:
    url: str
    ws: Workspace
    runtime: ApiRuntime
    keys: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, scope: str | None = "write") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(c)
        return c

    @property
    def store(self) -> Store:
        """A read cursor of the running server's store, for checking what was committed."""
        return self.runtime.reader()

    def count(self, sql: str, params: list[object] | None = None) -> int:
        row = self.store.con.execute(sql, params or []).fetchone()
        return int(row[0]) if row else 0


def make_workspace(root: Path) -> tuple[Workspace, dict[str, str]]:
    """The small data set, its model published and scored, and a key of each scope."""
    ws = init_workspace(root)
    (ws.models_dir / "small.yml").write_text(SMALL_MODEL)
    fill_store(ws)
    keys = {}
    with ws.open_store() as store:
        publish(store, load_model(ws.models_dir / "small.yml"))
        score_all(store, as_of=utcnow())
        for scope in ("read", "write", "admin"):
            keys[scope] = create_key(store, scope, f"test {scope}")[1]
    return ws, keys


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    ws, keys = make_workspace(tmp_path_factory.mktemp("api") / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        handle = Api(server.url, ws, app.state.runtime, keys)
        yield handle
        # contacts and deals have no primary key: the API's upserts keep their keys unique
        assert handle.store.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}
        for c in handle.clients:
            c.close()
