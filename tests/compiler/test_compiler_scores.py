"""Compiled SQL run on a real (in-memory) DuckDB store, checked against hand-computed numbers.

Each test builds a tiny model and a few rows whose scores can be worked out on paper: decay,
points_per_event with max, caps and floors, tiers and grades, count bands, inactivity. As of is
2025-01-01T00:00 and events sit a whole number of days before it, so ages are exact.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.compiler.compiler_helpers import AS_OF, add_contacts, add_events, score

from leadscore.storage.store import Store


def ago(days: float) -> object:
    return AS_OF - timedelta(days=days)


def test_half_life_decay_uses_the_most_recent_matching_event(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    decay: {half_life_days: 10}
    rules:
      - {name: demo, when: {event: demo_request}, points: 20}
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"}, {"contact_id": "c3"})
    add_events(store, ("c1", "demo_request", ago(10)), ("c1", "demo_request", ago(30)),
               ("c2", "demo_request", ago(20)), ("c3", "page_view", ago(1)))
    rows = score(store, model)
    assert rows["c1"]["r_0"] == pytest.approx(10.0, abs=1e-12)
    assert (rows["c1"]["rraw_0"], rows["c1"]["rn_0"], rows["c1"]["rf_0"]) == (20.0, 2, True)
    assert rows["c2"]["r_0"] == pytest.approx(5.0, abs=1e-12)
    c3 = rows["c3"]
    assert (c3["r_0"], c3["rraw_0"], c3["rn_0"], c3["rf_0"]) == (0, 0, 0, False)
    assert rows["c1"]["score"] == pytest.approx(10.0, abs=1e-12)


def test_linear_decay_and_decay_false(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    decay: {half_life_days: 10}
    rules:
      - {name: webinar, when: {event: webinar_attended}, points: 20, decay: {percent_per_month: 30}}
      - {name: unsub, when: {event: unsubscribe}, points: -15, decay: false}
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"})
    add_events(store, ("c1", "webinar_attended", ago(15)), ("c1", "unsubscribe", ago(300)),
               ("c2", "webinar_attended", ago(200)))
    rows = score(store, model)
    assert rows["c1"]["r_0"] == pytest.approx(20 * (1 - 0.3 * 15 / 30), abs=1e-12)  # 17
    assert rows["c1"]["r_1"] == -15.0
    # Past 100 days the linear factor is 0: the rule fired but is worth nothing.
    assert (rows["c2"]["r_0"], rows["c2"]["rraw_0"], rows["c2"]["rf_0"]) == (0.0, 20.0, True)


def test_points_per_event_with_decay_and_max(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    decay: {half_life_days: 10}
    rules:
      - {name: opens, when: {event: email_open}, points_per_event: 2, max: 5}
      - {name: bounces, when: {event: bounce}, points_per_event: -3, max: 4, decay: false}
      - {name: clicks, when: {event: email_click}, points_per_event: 1.5}
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"}, {"contact_id": "c3"})
    add_events(store, ("c1", "email_open", ago(0)), ("c1", "email_open", ago(10)),
               ("c1", "email_open", ago(10)), ("c1", "bounce", ago(1)), ("c1", "bounce", ago(2)),
               *[("c2", "email_open", ago(0))] * 4, ("c2", "email_click", ago(20)))
    rows = score(store, model)
    c1, c2, c3 = rows["c1"], rows["c2"], rows["c3"]
    assert c1["r_0"] == pytest.approx(2 * (1 + 0.5 + 0.5), abs=1e-12)  # 4, under max
    assert (c1["rraw_0"], c1["rn_0"], c1["rf_0"]) == (5.0, 3, True)  # 2 × 3 = 6, bounded to 5
    assert (c1["r_1"], c1["rraw_1"], c1["rn_1"]) == (-4.0, -4.0, 2)  # -6 bounded to -4
    assert (c2["r_0"], c2["rraw_0"]) == (5.0, 5.0)
    assert c2["r_2"] == pytest.approx(1.5 * 0.25, abs=1e-12)
    assert (c3["r_0"], c3["rraw_0"], c3["rn_0"], c3["rf_0"]) == (0.0, 0.0, 0, False)


MODEL_CAPS = """
name: t
tiers: {low: 0, mid: 3, high: 12}
cap: 12
floor: -3
matrix:
  fit: {group: a, bands: {C: 1, B: 5, A: 10}}
  engagement: {group: b, bands: {"3": -100, "2": 0, "1": 5}}
groups:
  a:
    cap: 10
    rules:
      - {name: ceo, when: {property: job_title, equals: CEO}, points: 8}
      - {name: us, when: {property: country, equals: US}, points: 8}
  b:
    floor: -5
    rules:
      - {name: no owner, when: {property: owner, is_empty: true}, points: -20}
      - {name: saas, when: {property: industry, equals: SaaS}, points: 6}
"""


def test_caps_floors_tiers_and_grade(store: Store) -> None:
    add_contacts(
        store,
        {"contact_id": "c1", "job_title": "CEO", "country": "US", "owner": "ann", "industry": "SaaS"},
        {"contact_id": "c2", "job_title": "CEO"},
        {"contact_id": "c3"},
    )
    rows = score(store, MODEL_CAPS)
    got = {cid: (r["g_0"], r["g_1"], r["score"], r["tier"], r["grade"]) for cid, r in rows.items()}
    assert got == {
        "c1": (10.0, 6.0, 12.0, "high", "A1"),  # a: 16 capped to 10; total 16 capped to 12
        "c2": (8.0, -5.0, 3.0, "mid", "B3"),  # b: -20 floored to -5; 3 is exactly mid's bound
        "c3": (0.0, -5.0, -3.0, "low", "C3"),  # total -5 floored to -3, below every tier: lowest
    }


def test_count_bands(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    rules:
      - {name: at most 2 views, when: {event: page_view, at_most: 2}, points: 1}
      - {name: exactly 1 open, when: {event: email_open, exactly: 1}, points: 2}
      - {name: 2 to 3 views, when: {event: page_view, between: [2, 3]}, points: 4}
      - {name: 3+ this week, when: {event: page_view, within_days: 7, at_least: 3}, points: 8}
"""
    add_contacts(store, {"contact_id": "c0"}, {"contact_id": "c1"}, {"contact_id": "c2"})
    add_events(store, ("c1", "page_view", ago(1)), ("c1", "page_view", ago(8)),
               ("c1", "email_open", ago(3)),
               ("c2", "page_view", ago(1)), ("c2", "page_view", ago(2)), ("c2", "page_view", ago(7)))
    rows = score(store, model)
    assert rows["c0"]["score"] == 1.0 and rows["c0"]["rn_0"] == 0  # at_most includes n = 0
    assert rows["c1"]["score"] == 1 + 2 + 4
    assert rows["c1"]["rn_3"] == 1
    assert rows["c2"]["score"] == 4 + 8  # age exactly 7 is within 7 days
    assert rows["c2"]["rn_3"] == 3


def test_inactivity(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    decay: {half_life_days: 1}
    rules:
      - {name: quiet, when: {no_event_within_days: 30}, points: -10}
      - {name: no views, when: {no_event_within_days: 7, events: [page_view]}, points: -1}
"""
    add_contacts(store, *[{"contact_id": f"c{i}"} for i in range(5)])
    add_events(store, ("c1", "email_open", ago(30)), ("c2", "page_view", ago(31)),
               ("c3", "page_view", ago(3)), ("c4", "page_view", AS_OF + timedelta(hours=1)))
    rows = score(store, model)
    assert {cid: r["score"] for cid, r in rows.items()} == {
        "c0": -11.0,  # no events at all
        "c1": -1.0,  # an event exactly 30 days old counts as within 30 days
        "c2": -11.0,
        "c3": 0.0,
        "c4": -11.0,  # an event after as_of does not exist
    }
    assert rows["c0"]["rn_0"] is None  # no event leaf, no count
    assert rows["c2"]["r_0"] == -10.0  # inactivity never decays


def test_events_after_as_of_do_not_exist(store: Store) -> None:
    model = """
name: t
groups:
  eng:
    rules:
      - {name: demo, when: {event: demo_request, within_days: 1}, points: 20}
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"})
    add_events(store, ("c1", "demo_request", AS_OF), ("c2", "demo_request", AS_OF + timedelta(seconds=1)))
    rows = score(store, model)
    assert (rows["c1"]["score"], rows["c1"]["rn_0"]) == (20.0, 1)  # age 0 counts
    assert (rows["c2"]["score"], rows["c2"]["rn_0"]) == (0.0, 0)
    # Scored a day later, c2's event exists and is within a day.
    later = score(store, model, as_of=AS_OF + timedelta(days=1))
    assert later["c2"]["score"] == 20.0


def test_only_contacts_created_by_as_of_are_scored(store: Store) -> None:
    add_contacts(store, {"contact_id": "past", "created_at": ago(1)},
                 {"contact_id": "exact", "created_at": AS_OF},
                 {"contact_id": "unknown"},
                 {"contact_id": "future", "created_at": AS_OF + timedelta(microseconds=1)})
    rows = score(store, "name: t\ngroups: {g: {rules: [{name: r, when: {property: owner, is_empty: true}, "
                        "points: 1}]}}")
    assert sorted(rows) == ["exact", "past", "unknown"]
