"""``/v1/models`` and ``/v1/report`` / ``/v1/backtest`` on a real server over the hand-computed ``tiny``
world of tests/reports/handdata.py, so the figures the API returns are checked against worked-out
values, not against another run of the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.reports.handdata import SCORES, TINY_MODEL, T, fill_tiny

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.server import ThreadedServer
from leadscore.workspace import Workspace, init_workspace

DRAFT = TINY_MODEL.replace("points: 15}", "points: 30}")  # demo requests worth twice as much
BROKEN = TINY_MODEL.replace("property: job_title", "property: job_titel")


class Server:
    def __init__(self, url: str, ws: Workspace, keys: dict[str, str]) -> None:
        self.url, self.ws, self.keys = url, ws, keys
        self._clients: list[httpx.Client] = []

    def client(self, scope: str = "read") -> httpx.Client:
        c = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[scope]}"}, timeout=60)
        self._clients.append(c)
        return c


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The tiny world with nothing published: the tests publish through the API."""
    ws = init_workspace(tmp_path_factory.mktemp("models-api") / "ws")
    for starter in ws.models_dir.glob("*.yml"):
        starter.unlink()
    fill_tiny(ws)
    with ws.open_store() as store:
        keys = {scope: create_key(store, scope, scope)[1] for scope in ("read", "admin")}
    with ThreadedServer(create_app(ws, worker=False, scheduler=False)) as running:
        handle = Server(running.url, ws, keys)
        yield handle
        for c in handle._clients:
            c.close()


@pytest.fixture(scope="module")
def published(server: Server) -> dict[str, object]:
    r = server.client("admin").post("/v1/models", json={"text": TINY_MODEL, "file": "models/tiny.yml"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_publish_records_a_version_and_scores_everyone(server: Server, published: dict[str, object]) -> None:
    assert published["model"] == "tiny" and published["version"] == 1 and published["new"] is True
    assert published["file"] == "models/tiny.yml" and published["groups"] == ["fit", "engagement"]
    [run] = published["runs"]  # type: ignore[misc]
    assert run["model"] == "tiny" and run["scope"] == "all" and run["contacts"] == 10
    again = server.client("admin").post("/v1/models", json={"text": TINY_MODEL})
    assert again.status_code == 200 and again.json()["new"] is False and again.json()["runs"] == []
    assert again.json()["version"] == 1


def test_publish_needs_an_admin_key_and_a_valid_model(server: Server, published: dict[str, object]) -> None:
    assert server.client("read").post("/v1/models", json={"text": DRAFT}).status_code == 403
    r = server.client("admin").post("/v1/models", json={"text": BROKEN, "file": "models/tiny.yml"})
    assert r.status_code == 422
    [problem] = [p for p in r.json()["detail"] if p["type"] == "model_error"]
    assert problem["line"] == 7 and problem["path"].endswith("property") and problem["field"] == "text"
    assert "job_title" in (problem["hint"] or "")  # did you mean ...
    listed = server.client().get("/v1/models").json()
    assert [(m["model"], m["version"]) for m in listed] == [("tiny", 1)]  # nothing was recorded


def test_read_a_model_and_its_versions(server: Server, published: dict[str, object]) -> None:
    r = server.client().get("/v1/models/tiny")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == TINY_MODEL and [v["version"] for v in body["versions"]] == [1]
    assert server.client().get("/v1/models/tiny", params={"version": 9}).status_code == 404
    assert server.client().get("/v1/models/nope").status_code == 404


def test_validate_reports_every_issue_without_raising(server: Server) -> None:
    good = server.client().post("/v1/models/validate", json={"text": DRAFT}).json()
    assert good == {"valid": True, "model": "tiny", "issues": []}
    bad = server.client().post("/v1/models/validate", json={"text": BROKEN}).json()
    assert bad["valid"] is False and bad["model"] is None
    assert [i["line"] for i in bad["issues"] if i["severity"] == "error"] == [7]
    unreadable = server.client().post("/v1/models/validate", json={"text": "groups: [1"}).json()
    assert unreadable["valid"] is False and unreadable["issues"]


def test_preview_one_lead_rule_by_rule(server: Server, published: dict[str, object]) -> None:
    r = server.client().post("/v1/models/preview", json={"text": DRAFT, "contact_ids": ["a"], "as_of": T.isoformat()})
    assert r.status_code == 200, r.text
    [lead] = r.json()["contacts"]
    assert lead["published"]["total"] == SCORES["a"] and lead["draft"]["total"] == 40.0
    assert lead["delta"] == 15.0
    assert {d["rule"]: d["delta"] for d in lead["rules"]} == {"exec": 0.0, "demo": 15.0, "spam": 0.0}


def test_preview_distribution_counts_tier_moves(server: Server, published: dict[str, object]) -> None:
    r = server.client().post("/v1/models/preview", json={"text": DRAFT, "distribution": True,
                                                         "as_of": T.isoformat()})
    assert r.status_code == 200, r.text
    dist = r.json()["distribution"]
    # c (demo, no CEO): 15 → 30, mid → high; the others keep their tier (a, j were high already)
    assert dist["changed_tier"] == 1 and dist["published_version"] == 1
    assert {(m["from"], m["to"]): m["contacts"] for m in dist["moves"]}[("mid", "high")] == 1
    both = server.client().post("/v1/models/preview", json={"text": DRAFT, "distribution": True,
                                                            "contact_ids": ["a"]})
    assert both.status_code == 422


def test_backtest_a_published_model_and_a_draft(server: Server, published: dict[str, object]) -> None:
    r = server.client().post("/v1/backtest", json={"model": "tiny", "as_of": T.isoformat(), "horizon": "30d"})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["contacts"], result["converters"]) == (8, 3)
    assert result["auc"] == pytest.approx(2 / 3)
    draft = server.client().post("/v1/backtest", json={"text": DRAFT, "vs": "tiny", "as_of": T.isoformat(),
                                                       "horizon": "30d"}).json()
    assert draft["comparison"]["moves"]["changed"] == 1  # c moves up, and c converted
    assert draft["comparison"]["moves"]["up_converters"] == 1


def test_report_as_json_and_as_the_offline_page(server: Server, published: dict[str, object]) -> None:
    params = {"as_of": T.isoformat(), "horizon": "30d", "rolling": 0}
    r = server.client().get("/v1/report", params=params)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["model"] == "tiny" and report["backtest"]["auc"] == pytest.approx(2 / 3)
    page = server.client().get("/v1/report", params={**params, "format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text[:500].lower() and "tiny" in page.text


def test_a_model_name_is_never_read_as_a_file(server: Server, published: dict[str, object]) -> None:
    assert Path("Makefile").is_file() or Path("pyproject.toml").is_file()  # run from the repo: files exist
    for name in ("Makefile", "pyproject.toml", "../leadscore.yml"):
        r = server.client().get("/v1/report", params={"model": name})
        assert r.status_code == 404 and "no published model" in r.json()["detail"]
        r = server.client().post("/v1/backtest", json={"model": name})
        assert r.status_code in (404, 422)


def test_request_text_never_reads_the_server_environment(server: Server, published: dict[str, object],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_TEST_SECRET", "s3cr3t-value")  # the server runs in this process
    probe = TINY_MODEL.replace("name: exec", 'name: "${LEADSCORE_TEST_SECRET}"').replace(
        "property: job_title", 'property: "${LEADSCORE_TEST_SECRET}"')
    for path, body in (("/v1/models/validate", {"text": probe}),
                       ("/v1/models/preview", {"text": probe, "contact_ids": ["a"]}),
                       ("/v1/backtest", {"text": probe})):
        r = server.client().post(path, json=body)
        assert "s3cr3t-value" not in r.text, path
        assert "${LEADSCORE_TEST_SECRET}" in r.text, path  # the reference comes back as written


def test_hostile_text_and_dates_get_clear_errors(server: Server, published: dict[str, object]) -> None:
    deep = "a: " + "[" * 2000 + "]" * 2000
    r = server.client().post("/v1/models/validate", json={"text": deep})
    assert r.status_code == 200 and r.json()["valid"] is False
    assert "nested too deeply" in r.json()["issues"][0]["message"]
    for params in ({"as_of": "9999-12-31T00:00:00"}, {"as_of": "0001-01-02T00:00:00", "rolling": 4}):
        r = server.client().get("/v1/report", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "as_of"], r.text
    r = server.client().post("/v1/backtest", json={"as_of": "9999-12-31T00:00:00"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "as_of"]
    r = server.client().post("/v1/models/preview", json={"text": DRAFT, "distribution": True,
                                                         "as_of": "9999-12-31T00:00:00"})
    assert r.status_code == 422
