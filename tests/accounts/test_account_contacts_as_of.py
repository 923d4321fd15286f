"""Account models read their contacts' properties as of T (docs/model-reference.md "Properties as of
a date"): a role, a contact filter and a rolled-up contact model all see a contact's job title of
then, so a change recorded after T moves no account score or backtest as of T.

In the B2B workspace (tests/accounts/helpers.py) dana is acme's CEO; on 2025-07-20, after the as-of,
she moves to an advisory role (no longer a decision maker, 10 points less under `b2b`). As of
2025-06-30 the account model must score acme as before the change; as of a date after it, with her
new title.
The pure-Python reference scorer, given the same history, gives the same numbers.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.accounts.helpers import AS_OF, build

import leadscore
from leadscore.engine.account_sql import contact_models_for
from leadscore.engine.reference_accounts import score_accounts_reference
from leadscore.engine.run import model_of
from leadscore.storage.history import write_properties
from leadscore.workspace import Workspace

MOVED = datetime(2025, 7, 20)
LATER = datetime(2025, 8, 15)


def _account_scores(ws: Workspace, when: datetime) -> dict[str, float]:
    leadscore.score(workspace=ws, as_of=when, allow_future=True)
    with ws.open_store(read_only=True) as store:
        return dict(store.con.execute("SELECT company_id, score FROM account_scores").fetchall())


def _move_dana(ws: Workspace) -> None:
    with ws.open_store() as store, store.transaction() as con:
        write_properties(con, "dana", {"job_title": "Advisor"}, source="test", now=datetime(2025, 9, 1),
                         changed_at=MOVED)


def _rows(ws: Workspace, sql: str) -> list[dict[str, Any]]:
    with ws.open_store(read_only=True) as store:
        cur = store.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_a_contact_change_after_t_moves_no_account_score_or_backtest_as_of_t(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    before = _account_scores(ws, AS_OF)
    backtest_before = leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, horizon="90d").to_dict()
    _move_dana(ws)
    assert _account_scores(ws, AS_OF) == pytest.approx(before, abs=1e-9)
    assert leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, horizon="90d").to_dict() == backtest_before
    # after the change her new title counts: the test above can fail
    later = _account_scores(ws, LATER)
    assert later["acme"] < _account_scores(build(tmp_path / "plain"), LATER)["acme"]


def test_the_reference_scorer_reads_the_same_history(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    _move_dana(ws)
    changes: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(ws, "SELECT contact_id, property, old_value, new_value, changed_at FROM property_history "
                         "ORDER BY changed_at"):
        history = changes.setdefault(row["contact_id"], [])
        if not history:  # the value before the first change, assumed since the contact's creation
            history.append({"property": row["property"], "value": row["old_value"], "changed_at": None})
        history.append({"property": row["property"], "value": row["new_value"], "changed_at": row["changed_at"]})
    with ws.open_store(read_only=True) as store:
        model = model_of(store.get_version("accounts"))
        contact_models = contact_models_for(store, model)[0]  # type: ignore[arg-type]
    companies, contacts = _rows(ws, "SELECT * FROM companies"), _rows(ws, "SELECT * FROM contacts")
    events = _rows(ws, "SELECT * FROM events")
    for when in (AS_OF, LATER):
        expected = score_accounts_reference(model, companies, contacts, events, when, contact_models,  # type: ignore[arg-type]
                                            match_by_domain=True, changes=changes)
        got = _account_scores(ws, when)
        assert got == pytest.approx({cid: s.total for cid, s in expected.items()}, abs=1e-9), when
    # without the history the reference reads dana as an Advisor at AS_OF too: the history is what differs
    today = score_accounts_reference(model, companies, contacts, events, AS_OF, contact_models,  # type: ignore[arg-type]
                                     match_by_domain=True)
    assert today["acme"].total < _account_scores(ws, AS_OF)["acme"]
