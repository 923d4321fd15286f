"""Workspaces for workflow tests: a tiny model whose score each test sets by hand.

Score = 20 for ``company_size >= 100`` + 5 for ``job_title = CEO`` + 25 for a demo request, so a
test moves a contact across a line by changing one property or adding one event, then rescores
that contact (``rescore``) as of a fixed instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

import leadscore
from leadscore.scoring import score_contacts
from leadscore.storage.store import Store
from leadscore.workspace import Workspace, init_workspace

AS_OF = datetime(2025, 6, 1)

BASE_MODEL = """\
version: 1
name: t
tiers: {cold: 0, warm: 20, hot: 40}
groups:
  fit:
    rules:
      - {name: big, when: {property: company_size, gte: 100}, points: 20}
      - {name: exec, when: {property: job_title, equals: CEO}, points: 5}
  engagement:
    rules:
      - {name: demo, when: {event: demo_request}, points: 25}
"""

CONTACTS = [("k1", "ann@acme.com", "Ann", "alice", "SaaS"), ("k2", "bob@big.io", "Bob", "bert", "Retail"),
            ("k3", "cy@co.org", "Cy", None, "SaaS")]

MakeWs = Callable[[str], Workspace]


@pytest.fixture
def make_ws(tmp_path: Path) -> MakeWs:
    """``make_ws(workflows_yaml)``: a workspace with three cold contacts, the model published and a
    baseline whole-base score (which fires nothing)."""
    def make(workflows: str, settings_extra: str = "") -> Workspace:
        ws = init_workspace(tmp_path / "ws")
        if settings_extra:
            with (ws.root / "leadscore.yml").open("a") as f:
                f.write(settings_extra)
            ws = Workspace.load(ws.root)
        (ws.models_dir / "b2b.yml").unlink(missing_ok=True)
        (ws.models_dir / "t.yml").write_text(BASE_MODEL + workflows)
        with ws.open_store() as store, store.transaction() as con:
            con.execute("SET TimeZone = 'UTC'")
            for cid, email, first, owner, industry in CONTACTS:
                con.execute("INSERT INTO contacts (contact_id, email, first_name, owner, industry, company_size, "
                            "created_at) VALUES (?, ?, ?, ?, ?, 10, '2025-01-01')",
                            [cid, email, first, owner, industry])
        leadscore.publish(ws.models_dir / "t.yml", workspace=ws)
        leadscore.score(workspace=ws, as_of=AS_OF)
        return ws
    return make


def set_props(store: Store, cid: str, **values: object) -> None:
    for name, value in values.items():
        store.con.execute(f'UPDATE contacts SET "{name}" = ? WHERE contact_id = ?', [value, cid])


def add_event(store: Store, cid: str, event_type: str = "demo_request", at: str = "2025-05-30") -> None:
    n = store.con.execute("SELECT count(*) FROM events").fetchone()
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, ?)",
                      [f"ev{n[0] if n else 0}", cid, event_type, at])


def remove_events(store: Store, cid: str) -> None:
    store.con.execute("DELETE FROM events WHERE contact_id = ?", [cid])


def rescore(store: Store, ws: Workspace, *cids: str) -> None:
    score_contacts(store, list(cids), as_of=AS_OF)


def fired(store: Store, workflow: str | None = None) -> list[str]:
    """Contact ids of the outbox rows (one per firing of a one-webhook workflow), oldest first."""
    sql = "SELECT contact_id FROM outbox" + (" WHERE workflow = ?" if workflow else "") + \
        " ORDER BY created_at, contact_id"
    return [r[0] for r in store.con.execute(sql, [workflow] if workflow else []).fetchall()]


def hook(workflow: str, trigger: str, extra: str = "", url: str = "http://127.0.0.1:9/hook") -> str:
    """One workflow with one webhook step, as YAML under `workflows:`."""
    return f"""  - name: {workflow}
    on: {trigger}
{extra}    do:
      - webhook: {{url: "{url}"}}
"""
