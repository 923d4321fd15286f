"""An account workflow's ``if:`` on a real store: it filters the companies a crossing fires for,
and an ``if:`` the store can no longer compile (its contact model republished without a tier it
names) is that account model's failure, found when the run compiles: the model is reported and
quarantined, the contact models still score, and events sent to the API are stored."""

from __future__ import annotations

from pathlib import Path

import pytest

import leadscore
from leadscore.model.loader import parse_model
from leadscore.scoring import score_all
from leadscore.timeutil import utcnow
from leadscore.workspace import Workspace

from .helpers import ACCOUNT_MODEL, CONTACT_MODEL, build, served

#: dana (acme's CEO) asks for a demo and reads the pricing page, and so does fay: acme goes from
#: warm (25) to sales_ready (47.5 = fit 10 + top-two mean 12.5 + buying group 10 + pricing 15)
CROSSING = [{"event_id": "x1", "contact_id": "dana", "type": "demo_request"},
            {"event_id": "x2", "contact_id": "dana", "type": "page_view", "properties": {"url": "/pricing"}},
            {"event_id": "x3", "contact_id": "fay", "type": "page_view", "properties": {"url": "/pricing"}}]


def _with_if(condition: str) -> str:
    return ACCOUNT_MODEL.replace("    on: {enters_tier: sales_ready}\n",
                                 f"    on: {{enters_tier: sales_ready}}\n    if: {condition}\n")


def _workspace(root: Path, condition: str) -> Workspace:
    ws = build(root)
    (ws.models_dir / "accounts.yml").write_text(_with_if(condition))
    leadscore.publish(ws.models_dir / "accounts.yml", workspace=ws)
    leadscore.score(workspace=ws, as_of=utcnow())  # acme warm
    return ws


def _insert_crossing(ws: Workspace) -> None:
    with leadscore.open_store(ws) as store:
        for e in CROSSING:
            store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) "
                              "VALUES (?, ?, ?, ?, ?)", [e["event_id"], e["contact_id"], e["type"], utcnow(),
                                                         e.get("properties", {}).get("url")])


def _drop_sql_tier(ws: Workspace) -> None:
    """b2b v2 without the tier `sql` the `if:` names, recorded as an older leadscore did (without
    the check `publish` now makes: engine.publish_checks)."""
    text = CONTACT_MODEL.replace(", sql: 30", "")
    loaded = parse_model(text, "models/b2b.yml")
    with leadscore.open_store(ws) as store:
        store.publish_model("b2b", text, loaded.hash, "models/b2b.yml", list(loaded.model.groups))


@pytest.mark.parametrize(("condition", "fires"), [
    ("{contacts: {model: b2b, tier: sql}, at_least: 1}", True),  # dana is in sql after the crossing
    ("{property: owner, equals: bob}", False),                        # acme's owner is ann
])
def test_the_if_decides_whether_the_crossing_fires(tmp_path: Path, condition: str, fires: bool) -> None:
    ws = _workspace(tmp_path / "ws", condition)
    _insert_crossing(ws)
    runs = leadscore.score(workspace=ws, as_of=utcnow())
    assert not runs.failures
    assert runs.workflows.fired == ({"accounts/sales-ready account": 1} if fires else {})
    assert [t["company_id"] for t in leadscore.tasks(workspace=ws)] == (["acme"] if fires else [])


def test_an_if_that_no_longer_compiles_fails_its_account_model_only(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", "{contacts: {model: b2b, tier: sql}, at_least: 1}")
    _drop_sql_tier(ws)
    _insert_crossing(ws)
    with leadscore.open_store(ws) as store:
        runs = score_all(store, as_of=utcnow())
        b2b_runs = store.con.execute("SELECT count(*) FROM score_runs WHERE model = 'b2b' AND model_version = 2"
                                     ).fetchone()
    assert [r.model for r in runs] == ["b2b"]  # the contact model scored with its new version
    assert b2b_runs == (1,)
    [failure] = runs.failures
    assert failure.model == "accounts"
    # the error names the account model and the workflow's `if:`, not an internal probe model
    assert "model `accounts` v2 could not be scored" in failure.error
    assert "workflows.0.if.contacts.tier" in failure.error and "`sql`" in failure.error
    assert "sales-ready account" in failure.error and "<model condition>" not in failure.error


def test_events_sent_to_the_api_are_stored_when_an_if_no_longer_compiles(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", "{contacts: {model: b2b, tier: sql}, at_least: 1}")
    _drop_sql_tier(ws)
    with served(ws) as (client, app):
        r = client.post("/v1/events", json={"events": CROSSING})
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 3
        store = app.state.runtime.reader()
        assert store.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'x%'").fetchone() == (3,)
        # dana was scored by b2b v2 in the same transaction; acme's account score waits for a fixed model
        assert store.con.execute("SELECT model_version, tier FROM scores WHERE model = 'b2b' AND contact_id = 'dana'"
                                 ).fetchone() == (2, "nurture")
        assert store.con.execute("SELECT tier FROM account_scores WHERE company_id = 'acme'").fetchone() == ("warm",)
        assert client.get("/v1/companies/acme").status_code == 200
