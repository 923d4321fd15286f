"""A model sent to the server cannot stall it: ``matches`` runs on RE2 (linear time) in explain and
preview, and a preview or explain that runs past ``server.time_limit_seconds`` is stopped with a 422.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from tests.api.conftest import Api, make_workspace
from tests.smalldata import SMALL_MODEL

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer

#: Python's backtracking `re` needs ~9 s for a 28-character text and doubles with each character.
REDOS = SMALL_MODEL.replace("{property: job_title, in: [CEO, VP Sales]}", '{property: email, matches: "^(.+)+Z"}')


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    ws, keys = make_workspace(tmp_path_factory.mktemp("limits") / "ws")
    with ws.open_store() as store:  # 3M contacts: enough for a distribution preview to take a while
        store.con.execute("INSERT INTO contacts (contact_id, email) VALUES ('long', ?)", ["a" * 60 + "@example.com"])
        store.con.execute("INSERT INTO contacts (contact_id, email, job_title) "
                          "SELECT 'x' || i, 'x' || i || '@example.com', 'title ' || (i % 97) FROM range(3000000) t(i)")
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        handle = Api(server.url, ws, app.state.runtime, keys)
        yield handle
        for c in handle.clients:
            c.close()


def test_a_catastrophic_pattern_does_not_hold_the_server(api: Api) -> None:
    health: list[float] = []

    def probe() -> None:
        with api.client(None) as c:
            t = time.monotonic()
            assert c.get("/healthz").status_code == 200
            health.append(time.monotonic() - t)

    result: dict[str, object] = {}

    def preview() -> None:
        r = api.client("read").post("/v1/models/preview", json={"text": REDOS, "contact_ids": ["long", "c1"]})
        result["status"], result["body"] = r.status_code, r.json()

    sender = threading.Thread(target=preview)
    sender.start()
    time.sleep(0.05)
    probe()
    sender.join(60)
    assert not sender.is_alive(), "the preview never answered"
    assert result["status"] == 200, result
    body = result["body"]
    assert isinstance(body, dict)
    exec_rule = body["contacts"][0]["draft"]["rules"][0]
    assert exec_rule["name"] == "exec" and exec_rule["fired"] is False  # no Z: the pattern never matches
    assert health and health[0] < 5


def test_a_preview_past_the_time_limit_is_stopped_with_a_422(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    heavy = SMALL_MODEL.replace("{property: job_title, in: [CEO, VP Sales]}",
                                '{property: email, matches: "^x[0-9]*7[0-9]*@exa(m|n)ple\\\\.com$"}')
    monkeypatch.setattr(api.runtime.settings, "time_limit_seconds", 0.01)
    t = time.monotonic()
    r = api.client("read").post("/v1/models/preview", json={"text": heavy, "distribution": True})
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["type"] == "time_limit" and "0.01 s" in problem["msg"] and "time_limit_seconds" in problem["msg"]
    assert time.monotonic() - t < 10
    # the reader it interrupted still answers, and so does an explain under the normal limit
    monkeypatch.setattr(api.runtime.settings, "time_limit_seconds", 20)
    r = api.client("read").get("/v1/contacts/c1/explain")
    assert r.status_code == 200, r.text


def test_an_explain_past_the_time_limit_is_stopped_with_a_422(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.runtime.settings, "time_limit_seconds", 1e-6)
    r = api.client("read").get("/v1/contacts/c1/explain")
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "time_limit", r.text


def test_a_lone_surrogate_in_a_key_is_a_422_everywhere(api: Api) -> None:
    bad = SMALL_MODEL.replace("sql: 40", '"sql\\ud800": 40').replace("name: small", "name: other")
    r = api.client("read").post("/v1/models/validate", json={"text": bad})
    assert r.status_code == 200 and r.json()["valid"] is False, r.text
    assert r.json()["issues"][0]["path"] == "tiers.sql\\ud800"
    r = api.client("read").post("/v1/models/preview", json={"text": bad, "contact_ids": ["c1"]})
    assert r.status_code == 422 and "not valid Unicode" in r.text, r.text
    r = api.client("admin").post("/v1/models", json={"text": bad})
    assert r.status_code == 422, r.text
    assert api.count("SELECT count(*) FROM model_versions WHERE model = 'other'") == 0
