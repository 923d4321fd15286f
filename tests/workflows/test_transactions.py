"""Scores, history and queued actions commit together or not at all."""

from __future__ import annotations

import pytest
from tests.workflows.helpers import AS_OF, MakeWs, hook, set_props

from leadscore.scoring import score_contacts
from leadscore.storage.store import Store
from leadscore.workflows import effects

WORKFLOWS = "workflows:\n" + hook("warm-in", "{enters_tier: warm}") + "      - add_to_list: warm\n"


def snapshot(store: Store) -> list[list[tuple]]:
    return [store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("scores", "score_history", "score_runs", "outbox", "list_members")]


def test_a_failing_caller_transaction_takes_scores_and_actions_back(make_ws: MakeWs) -> None:
    ws = make_ws(WORKFLOWS)
    with ws.open_store() as store:
        before = snapshot(store)
        with pytest.raises(RuntimeError, match="the API write failed"), store.transaction():
            set_props(store, "k1", company_size=500)
            score_contacts(store, ["k1"], as_of=AS_OF)
            assert store.con.execute("SELECT count(*) FROM outbox").fetchone() == (1,)  # visible inside
            raise RuntimeError("the API write failed")
        assert snapshot(store) == before
        assert store.con.execute("SELECT company_size FROM contacts WHERE contact_id = 'k1'").fetchone() == (10,)


def test_a_failure_inside_the_workflow_hook_leaves_scores_and_outbox_as_they_were(
        make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_ws(WORKFLOWS)

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        before = snapshot(store)
        # the list step runs after the webhook row is written: both must go
        monkeypatch.setattr(effects, "add_to_list", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            score_contacts(store, ["k1"], as_of=AS_OF)
        assert snapshot(store) == before
        monkeypatch.undo()
        score_contacts(store, ["k1"], as_of=AS_OF)  # and the store works on afterwards
        assert store.con.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
        assert store.con.execute("SELECT tier FROM scores WHERE contact_id = 'k1'").fetchone() == ("warm",)


def test_a_contact_created_in_the_callers_transaction_can_be_set_by_its_first_workflow(make_ws: MakeWs) -> None:
    """The API's path: a new contact and its event arrive, and its first score fires `set`."""
    ws = make_ws("workflows:\n" + hook("hot-in", "{enters_tier: hot}")
                 + "      - set: {lifecycle_stage: salesqualifiedlead, owner: dana}\n"
                 + "      - task: {title: \"Call {{ contact.first_name }}\"}\n")
    with ws.open_store() as store:
        with store.transaction() as con:
            con.execute("INSERT INTO contacts (contact_id, first_name, company_size, created_at) "
                        "VALUES ('new', 'Nia', 500, '2025-05-01')")
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                        "VALUES ('e-new', 'new', 'demo_request', '2025-05-31')")
            score_contacts(store, ["new"], as_of=AS_OF)
        row = store.con.execute("SELECT lifecycle_stage, owner FROM contacts WHERE contact_id = 'new'").fetchone()
        assert row == ("salesqualifiedlead", "dana")
        task = store.con.execute("SELECT owner, title FROM tasks").fetchone()
        assert task == ("dana", "Call Nia")  # steps run in order: the task sees the owner just set
