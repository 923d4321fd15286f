"""The feature query against the same numbers computed by hand in Python, contact by contact."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

import leadscore
from leadscore.predictive.features import (
    WINDOWS,
    encode,
    features_query,
    fit_levels,
    plan_features,
    raw_features,
    stored_scores_cover,
)
from leadscore.timeutil import age_days, utcnow
from leadscore.workspace import Workspace

AS_OF = datetime(2025, 11, 15, 12, 30)


def test_event_aggregates_match_a_hand_count(fresh_ws: Workspace) -> None:
    with fresh_ws.open_store(read_only=True) as store:
        plan = plan_features(store, until=AS_OF)
        table = raw_features(store, plan, AS_OF)
        ids = table["contact_id"].to_pylist()
        some = ids[::97]
        events = store.con.execute(
            "SELECT contact_id, type, occurred_at FROM events WHERE contact_id IN (SELECT unnest(?)) "
            "AND occurred_at <= ?", [some, AS_OF]).fetchall()
    assert plan.event_types and len(some) > 30
    rows = {cid: i for i, cid in enumerate(ids)}
    for cid in some:
        mine = [(t, age_days(AS_OF, at), at.date()) for c, t, at in events if c == cid]
        got = {name: table[name][rows[cid]].as_py() for name in table.column_names if name.startswith("e:")}
        for t in plan.event_types:
            ages = [a for tt, a, _ in mine if tt == t]
            for w in WINDOWS:
                assert got[f"e:{t}:n{w}"] == sum(a <= w for a in ages), (cid, t, w)
            expected = min(ages) if ages else None
            assert (got[f"e:{t}:recency"] is None) == (expected is None)
            if expected is not None:
                assert math.isclose(got[f"e:{t}:recency"], expected, abs_tol=1e-9)
        for w in (30, 90, 365):
            assert got[f"e:*:active{w}"] == len({d for _, a, d in mine if a <= w})
        if mine:
            assert math.isclose(got["e:*:recency"], min(a for _, a, _ in mine), abs_tol=1e-9)
            assert math.isclose(got["e:*:first"], max(a for _, a, _ in mine), abs_tol=1e-9)


def test_properties_become_numbers_and_grouped_categories(fresh_ws: Workspace) -> None:
    with fresh_ws.open_store(read_only=True) as store:
        plan = plan_features(store, until=AS_OF)
        table = raw_features(store, plan, AS_OF)
    names = plan.names
    assert {"p:job_title", "p:company_size", "p:email_domain", "p:is_free_email", "p:created_at"} <= set(names)
    assert not {"p:email", "p:first_name", "p:phone", "p:lifecycle_stage", "p:updated_at"} & set(names)
    fit_levels(plan, table)
    title = next(f for f in plan.features if f.name == "p:job_title")
    assert title.levels and all(v == v.lower() for v in title.levels)
    x = encode(plan, table)
    j = names.index("p:job_title")
    codes = x[:, j][~(x[:, j] != x[:, j])]
    assert codes.min() >= 0 and codes.max() <= len(title.levels)


def test_rule_features_read_from_stored_scores_equal_the_compiled_ones(fresh_ws: Workspace) -> None:
    """`leadscore score` then predict: the rule scores are read from `scores`, not recomputed, and
    are the very numbers the compiled query gives; any doubt (a contact rescored at another moment,
    an import since) goes back to the compiled query."""
    leadscore.publish(fresh_ws.models_dir / "b2b.yml", workspace=fresh_ws)
    leadscore.score(workspace=fresh_ws, as_of=AS_OF, predict=False)
    with fresh_ws.open_store() as store:
        plan = plan_features(store, until=AS_OF)
        [(name, version)] = plan.rule_models
        assert sum(f.source == "rule" for f in plan.features) > 1  # the score and its groups
        assert stored_scores_cover(store, name, version, AS_OF)
        assert not stored_scores_cover(store, name, version, AS_OF - timedelta(days=1))
        assert not stored_scores_cover(store, name, version + 1, AS_OF)
        assert "FROM scores" in features_query(store, plan, AS_OF)
        stored = raw_features(store, plan, AS_OF)
        store.con.execute("UPDATE scores SET as_of = as_of + INTERVAL 1 SECOND "
                          "WHERE contact_id = (SELECT min(contact_id) FROM scores)")  # one rescored later
        assert not stored_scores_cover(store, name, version, AS_OF)
        assert "FROM scores" not in features_query(store, plan, AS_OF)
        computed = raw_features(store, plan, AS_OF)
        store.con.execute("UPDATE scores SET as_of = ?", [AS_OF])
        assert stored_scores_cover(store, name, version, AS_OF)
        store.con.execute("INSERT INTO imports VALUES ('later', 'events', 'x.csv', ?, 0, 0, 0, 0)",
                          [utcnow() + timedelta(minutes=1)])
        assert not stored_scores_cover(store, name, version, AS_OF)  # events may have changed since
    assert stored.num_rows == computed.num_rows > 1000
    assert stored.equals(computed)
    fit_levels(plan, stored)
    assert np.array_equal(encode(plan, stored), encode(plan, computed), equal_nan=True)
