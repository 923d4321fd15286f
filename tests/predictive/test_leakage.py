"""Nothing from after a cut-off reaches the model: planted future events, contacts and deals
change neither the features nor the trained artefact."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from tests.predictive.conftest import UNTIL

from leadscore.errors import LeadscoreError
from leadscore.predictive.features import plan_features, raw_features
from leadscore.predictive.labels import plan_cutoffs, won_labels
from leadscore.predictive.train import train_model
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

CUTOFF = datetime(2025, 12, 31)


def _plant_future(store: Store, after: datetime) -> list[str]:
    """Demo requests right after ``after`` for the 200 least active contacts, a contact created
    after it, and won deals closing after ``UNTIL``. Returns the contacts given events."""
    quiet = [r[0] for r in store.con.execute(
        "SELECT c.contact_id FROM contacts c LEFT JOIN events e USING (contact_id) "
        "WHERE c.created_at <= ? GROUP BY 1 ORDER BY count(e.event_id), 1 LIMIT 200", [after]).fetchall()]
    with store.transaction() as con:
        for i, cid in enumerate(quiet):
            for k in range(5):
                con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) VALUES (?, ?, ?, ?, ?)",
                            [f"future-{i}-{k}", cid, "demo_request", after + timedelta(hours=1 + k), "/pricing"])
            con.execute("INSERT INTO deals (deal_id, contact_id, status, created_at, closed_at) VALUES (?, ?, ?, ?, ?)",
                        [f"future-deal-{i}", cid, "won", UNTIL + timedelta(days=1), UNTIL + timedelta(days=2)])
        con.execute("INSERT INTO contacts (contact_id, job_title, created_at) VALUES ('late', 'CEO', ?)",
                    [after + timedelta(days=1)])
        con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES ('late-1', 'late', "
                    "'brand_new_type', ?)", [after + timedelta(days=2)])
    return quiet


def test_features_at_a_cutoff_ignore_later_events_and_contacts(fresh_ws: Workspace) -> None:
    with fresh_ws.open_store() as store:
        plan = plan_features(store, until=CUTOFF)
        before = raw_features(store, plan, CUTOFF)
        planted = _plant_future(store, CUTOFF)
        assert plan_features(store, until=CUTOFF).to_json() == plan.to_json()  # no new type, no new column
        after = raw_features(store, plan, CUTOFF)
        later = raw_features(store, plan, CUTOFF + timedelta(days=3))
    assert after.equals(before)
    assert "late" not in after["contact_id"].to_pylist()
    # the planted events are real: a later cut-off does see them
    ids = later["contact_id"].to_pylist()
    demo = later["e:demo_request:n7"].to_pylist()
    assert all(demo[ids.index(cid)] >= 5 for cid in planted[:20])


def test_trained_model_cannot_see_planted_future(fresh_ws: Workspace) -> None:
    with fresh_ws.open_store() as store:
        first = train_model(store, until=UNTIL, min_positives=50, seed=1)
        cutoff = first.model.cutoffs[-1]
        assert datetime(2025, 7, 1) <= cutoff <= datetime(2026, 1, 1)  # the demo's busiest window, in its data
        _plant_future(store, cutoff)
        second = train_model(store, until=UNTIL, min_positives=50, seed=1)
        assert second.model.cutoffs == first.model.cutoffs
        rows = store.con.execute("SELECT spec, booster, metrics FROM predictive_models ORDER BY version").fetchall()
    assert rows[0] == rows[1]


def test_labels_come_only_from_the_window_after_the_cutoff(fresh_ws: Workspace) -> None:
    with fresh_ws.open_store() as store, store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id, created_at) VALUES ('x1', '2025-01-01'), "
                    "('x2', '2025-01-01'), ('x3', '2025-01-01')")
        con.execute("INSERT INTO deals (deal_id, contact_id, status, closed_at) VALUES "
                    "('d1', 'x1', 'won', '2025-06-15'), ('d2', 'x2', 'won', '2025-05-01'), "
                    "('d3', 'x3', 'won', '2025-09-15'), ('d4', 'x3', 'lost', '2025-06-10')")
        import pyarrow as pa

        won, before = won_labels(store, pa.array(["x1", "x2", "x3", "nobody"]), datetime(2025, 6, 1), 90)
    assert won.tolist() == [True, False, False, False]  # x3 won after the 90 days
    assert before.tolist() == [False, True, False, False]  # x2 was a customer already


def test_time_based_cutoffs_must_be_a_horizon_apart() -> None:
    until = datetime(2026, 1, 1)
    default = plan_cutoffs(until, 90)
    assert default[-1] == until - timedelta(days=90)
    assert all(c + timedelta(days=90) <= default[-1] for c in default[:-1])
    with pytest.raises(LeadscoreError, match="overlap"):
        plan_cutoffs(until, 90, [datetime(2025, 8, 1), datetime(2025, 9, 1)])
    with pytest.raises(LeadscoreError, match="has not closed"):
        plan_cutoffs(until, 90, [datetime(2025, 12, 1)])
    assert plan_cutoffs(until, 30, [datetime(2025, 9, 1), datetime(2025, 7, 1)]) == [
        datetime(2025, 7, 1), datetime(2025, 9, 1)]


def test_time_based_validation_with_given_cutoffs(fresh_ws: Workspace) -> None:
    """Planted deals spread over the year make a time-based split possible; the rows of the newest
    cut-off validate and none of them trains."""
    rng = np.random.default_rng(0)
    with fresh_ws.open_store() as store:
        ids = [r[0] for r in store.con.execute(
            "SELECT contact_id FROM contacts c WHERE created_at <= '2025-03-01' AND (SELECT count(*) FROM events e "
            "WHERE e.contact_id = c.contact_id) > 20 ORDER BY 1").fetchall()]
        with store.transaction() as con:
            for i, cid in enumerate(ids):
                closed = datetime(2025, 4, 1) + timedelta(days=int(rng.integers(0, 240)))
                con.execute("INSERT INTO deals (deal_id, contact_id, status, closed_at) VALUES (?, ?, 'won', ?)",
                            [f"spread-{i}", cid, closed])
        result = train_model(store, until=datetime(2025, 12, 1), horizon_days=60, min_positives=50,
                             cutoffs=[datetime(2025, 5, 1), datetime(2025, 7, 1), datetime(2025, 9, 1)])
    m = result.metrics
    assert m["validation"] == "newest cut-off" and len(result.model.cutoffs) == 3
    assert m["training_rows"] > m["validation_rows"] > 0


def test_a_date_property_is_a_feature_only_where_a_change_dates_it() -> None:
    """An assumed updated_at is today's: for a contact that converted after the cut-off it is the
    conversion's own edit. Read as of the cut-off, it must give away nothing, neither by its value
    nor by being empty only for the contacts modified later: every assumed date reads empty, and a
    dated one (recorded at or before the cut-off) reads as "days since"."""
    from leadscore.predictive.leakage import assumed_properties, assumed_warning
    from leadscore.storage.history import write_properties

    cutoff = datetime(2025, 6, 1)
    with Store.open(":memory:") as store:
        store.con.execute("""INSERT INTO contacts (contact_id, lifecycle_stage, updated_at, created_at) VALUES
            ('later', 'customer', '2025-12-01', '2025-01-01'), ('earlier', 'lead', '2025-02-01', '2025-01-01'),
            ('dated', 'lead', NULL, '2025-01-01')""")
        write_properties(store.con, "dated", {"lifecycle_stage": "mql"}, source="api", now=datetime(2025, 7, 1),
                         changed_at=datetime(2025, 3, 1), bump_updated_at=True)
        plan = plan_features(store, until=cutoff)
        table = raw_features(store, plan, cutoff).to_pydict()
        days = dict(zip(table["contact_id"], table["p:updated_at"], strict=True))
        assert days == {"dated": 92.0, "earlier": None, "later": None}
        # 2 of 3 contacts have lifecycle_stage assumed at the cut-off: training says so (one dated
        # contact no longer silences it); updated_at, read only where dated, is not named
        warning = assumed_warning(assumed_properties(store, plan, cutoff), cutoff)
        assert warning is not None and "lifecycle_stage (67% assumed)" in warning
        assert "updated_at" not in warning
