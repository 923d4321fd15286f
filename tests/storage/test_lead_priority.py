"""The leads list's display table carries the latest predicted priority and probability: written by
``leadscore predict`` in its transaction, kept by every score run, and filled on upgrade — always
equal to its recomputation from ``predictions`` (``lead_rows.expected_sql``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.predictive.conftest import copy_workspace, demo_template  # noqa: F401 (fixture)
from tests.predictive.test_predict import predicted_template  # noqa: F401 (fixture)
from tests.storage.test_lead_rows import assert_fresh

import leadscore
from leadscore.scoring import score_all, score_contacts
from leadscore.storage import lead_rows, lead_rows_later
from leadscore.storage.migrations_lead_priority import LEAD_PRIORITY_MIGRATION
from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

AS_OF = datetime(2026, 1, 1)


@pytest.fixture
def ws(predicted_template: Workspace, tmp_path: Path) -> Workspace:  # noqa: F811 (the imported fixture)
    return copy_workspace(predicted_template, tmp_path / "ws")


def _priorities(store: Store) -> dict[str, tuple[str | None, float | None]]:
    return {cid: (priority, probability) for cid, priority, probability in store.con.execute(
        f"SELECT contact_id, priority, probability FROM {lead_rows.TABLE}").fetchall()}


def _predicted(store: Store) -> dict[str, tuple[str, float]]:
    return {cid: (priority, probability) for cid, priority, probability in store.con.execute(
        "SELECT contact_id, priority, probability FROM predictions").fetchall()}


def test_a_prediction_run_writes_every_row_s_priority(ws: Workspace) -> None:
    with ws.open_store() as store:
        assert_fresh(store)
        shown, predicted = _priorities(store), _predicted(store)
        assert len(shown) > 1000 and shown == {cid: predicted[cid] for cid in shown}
        assert len({p for p, _ in shown.values()}) >= 3
    # predicted again later: the leads have moved, and so do their priorities, in the same run
    leadscore.predict(workspace=ws, as_of=(AS_OF + timedelta(days=60)).isoformat())
    with ws.open_store() as store:
        assert_fresh(store)
        assert _priorities(store) != shown
        assert _priorities(store) == {cid: _predicted(store)[cid] for cid in shown}


def test_score_runs_keep_the_priorities(ws: Workspace) -> None:
    with ws.open_store() as store:
        before = _priorities(store)
        ids = sorted(before)[:3]
        # one contact as if it had never been scored: its row is new to the table
        with store.transaction() as con:
            for table in ("scores", lead_rows.TABLE):
                con.execute(f"DELETE FROM {table} WHERE contact_id = ?", [ids[0]])
        score_contacts(store, ids, as_of=AS_OF + timedelta(days=1))  # real time, by key
        assert_fresh(store)
        assert _priorities(store) == before
        score_all(store, as_of=AS_OF + timedelta(days=2))  # whole base, joined
        assert_fresh(store)
        assert _priorities(store) == before


def test_an_upgraded_store_gets_the_priorities_filled(ws: Workspace) -> None:
    with ws.open_store() as store:
        before = assert_fresh(store)
        with store.transaction() as con:
            con.execute(f"ALTER TABLE {lead_rows.TABLE} DROP COLUMN priority")
            con.execute(f"ALTER TABLE {lead_rows.TABLE} DROP COLUMN probability")
            con.execute(f"DROP TABLE {lead_rows_later.MARKED}")  # and what later migrations add
            # a store of the version before the priorities' migration
            version = MIGRATIONS.index(LEAD_PRIORITY_MIGRATION)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    with ws.open_store() as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert assert_fresh(store) == before
