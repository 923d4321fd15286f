"""A contact moving to another company rescores the company it leaves, whatever moves it: a
workflow ``set`` (settled in the run's transaction) or a Segment ``identify`` (as a PUT does).
Checked against a fresh whole-base run of the same store, on real stores and a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

import leadscore
from leadscore.engine.account_sql import account_sql
from leadscore.engine.run import model_of
from leadscore.scoring import score_contacts
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.workspace import Workspace

from .helpers import CONTACT_MODEL, build, served

#: b2b with a workflow moving a contact that reaches sql to globex
MOVING = CONTACT_MODEL + """\
workflows:
  - name: hand over
    on: {enters_tier: sql}
    do:
      - set: {company_id: globex}
"""


def _stored(store: Store) -> dict[str, float]:
    return {str(c): float(s) for c, s in store.con.execute(
        "SELECT company_id, score FROM account_scores WHERE model = 'accounts'").fetchall()}


def _fresh(store: Store, as_of: object) -> dict[str, float]:
    """What a whole-base run would store now (the account query itself, nothing written)."""
    sql = account_sql(store, model_of(store.get_version("accounts")), as_of)  # type: ignore[arg-type]
    return {str(r[0]): float(r[1]) for r in store.con.execute(f"SELECT company_id, score FROM ({sql})").fetchall()}


def test_a_workflow_set_moving_a_contact_rescores_the_company_it_left(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    (ws.models_dir / "b2b.yml").write_text(MOVING)
    leadscore.publish(ws.models_dir / "b2b.yml", workspace=ws)
    as_of = utcnow()
    leadscore.score(workspace=ws, as_of=as_of)
    with leadscore.open_store(ws) as store:
        before = _stored(store)
        with store.transaction() as con:  # dana (acme's CEO) asks for a demo and reads the pricing page: sql
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) VALUES "
                        "('m1', 'dana', 'demo_request', ?, NULL), ('m2', 'dana', 'page_view', ?, '/pricing')",
                        [as_of, as_of])
            runs = score_contacts(store, ["dana"], as_of=as_of)
        assert runs.workflows.fired == {"b2b/hand over": 1}
        assert store.con.execute("SELECT company_id FROM contacts WHERE contact_id = 'dana'").fetchone() == ("globex",)
        after = _stored(store)
        assert after["acme"] < before["acme"]  # lost its CEO: rescored in the same transaction
        assert after == pytest.approx(_fresh(store, as_of), abs=1e-6)


def test_a_segment_identify_moving_a_contact_rescores_the_company_it_left(tmp_path: Path) -> None:
    ws: Workspace = build(tmp_path / "ws")
    leadscore.score(workspace=ws, as_of=utcnow())
    with served(ws) as (client, app):
        store = app.state.runtime.reader()
        before = _stored(store)
        r = client.post("/v1/segment", json={"type": "identify", "userId": "dana", "messageId": "id-1",
                                             "traits": {"company_id": "globex"}})
        assert r.status_code == 200, r.text
        assert r.json()["identified"] == 1
        after = _stored(store)
        assert after["acme"] < before["acme"] and after["globex"] != before["globex"]
        assert after == pytest.approx(_fresh(store, utcnow()), abs=1e-3)  # decay moves scores a little
