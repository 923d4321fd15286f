"""One definition of "converted": training labels and backtest outcomes agree, contact by contact.

A hand-made store with the awkward cases: won deals without ``closed_at`` (one inside the window,
one before it, one with no date at all), wins exactly on the window's edges, a lost deal, contacts
created after the as-of or with no creation date, and a label property written in mixed case with
stray whitespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from leadscore.errors import LeadscoreError
from leadscore.predictive.conversion import data_end
from leadscore.predictive.features import plan_features
from leadscore.predictive.labels import won_labels
from leadscore.predictive.train import _property_rows, won_rows
from leadscore.reports.outcomes import Outcome, outcome_query
from leadscore.storage.store import Store
from leadscore.workspace import init_workspace

T = datetime(2025, 6, 1)
HORIZON = 30
JAN = datetime(2025, 1, 1)
CONTACTS = [  # contact_id, created_at, converted (the label property, as typed in some export)
    ("a", JAN, "  YES "), ("b", JAN, "No"), ("c", JAN, "TRUE\t"), ("d", JAN, ""), ("e", JAN, None),
    ("f", JAN, " t "), ("g", JAN, "Won"), ("h", datetime(2025, 6, 15), "yes"), ("i", None, "0"),
    ("j", JAN, "F"),
]
DEALS = [  # deal_id, contact_id, status, created_at, closed_at
    ("d1", "a", "won", JAN, datetime(2025, 6, 10)),  # closed in the window
    ("d2", "b", "won", datetime(2025, 6, 5), None),  # no close date: won at creation, in the window
    ("d3", "c", "won", datetime(2025, 5, 1), None),  # no close date, created before T: a customer
    ("d4", "d", "won", None, None),  # no date at all: ignored
    ("d5", "e", "won", JAN, T + timedelta(days=HORIZON)),  # on the window's end: outside
    ("d6", "f", "won", JAN, T),  # on the window's start: inside
    ("d7", "g", "lost", JAN, datetime(2025, 6, 10)),
    ("d8", "h", "won", datetime(2025, 6, 16), datetime(2025, 6, 20)),  # created after T: not a lead yet
]


def _fill(store: Store) -> None:
    store.con.execute("ALTER TABLE contacts ADD COLUMN converted VARCHAR")
    for cid, created, label in CONTACTS:
        store.con.execute("INSERT INTO contacts (contact_id, created_at, converted) VALUES (?, ?, ?)",
                          [cid, created, label])
    for did, cid, status, created, closed in DEALS:
        store.con.execute("INSERT INTO deals (deal_id, contact_id, status, amount, created_at, closed_at) "
                          "VALUES (?, ?, ?, 100, ?, ?)", [did, cid, status, created, closed])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    ws = init_workspace(tmp_path / "ws")
    with ws.open_store() as opened:
        _fill(opened)
        yield opened


def _backtest(store: Store, outcome: Outcome) -> dict[str, bool]:
    sql, params = outcome_query(store, T, outcome)
    rows = store.con.execute(f"SELECT contact_id, converted FROM ({sql})", params).fetchall()
    return {cid: bool(y) for cid, y in rows}


def test_won_deal_labels_and_backtest_outcomes_agree(store: Store) -> None:
    plan = plan_features(store, until=T)
    rows = won_rows(store, plan, [T], HORIZON, T + timedelta(days=HORIZON), seed=0)
    training = dict(zip(rows.table["contact_id"].to_pylist(), rows.y.tolist(), strict=True))
    backtest = _backtest(store, Outcome(timedelta(days=HORIZON)))
    assert training == backtest
    # c had won (at its deal's creation) before T: a customer, in neither; h did not exist at T
    assert training == {"a": True, "b": True, "d": False, "e": False, "f": True, "g": False, "i": False,
                        "j": False}
    won, before = won_labels(store, pa.array(["b", "c", "d"]), T, HORIZON)
    assert won.tolist() == [True, False, False] and before.tolist() == [False, True, False]


def test_days_to_close_counts_from_the_won_time(store: Store) -> None:
    sql, params = outcome_query(store, T, Outcome(timedelta(days=HORIZON)))
    got = dict(store.con.execute(f"SELECT contact_id, days_to_close FROM ({sql}) WHERE converted",
                                 params).fetchall())
    assert got == {"a": 9.0, "b": 4.0, "f": 0.0}


def test_label_property_labels_and_backtest_outcomes_agree(store: Store) -> None:
    plan = plan_features(store, until=T, exclude={"converted"})
    rows = _property_rows(store, plan, "converted", T, seed=0)
    training = dict(zip(rows.table["contact_id"].to_pylist(), rows.y.tolist(), strict=True))
    backtest = _backtest(store, Outcome(label="converted"))
    assert training == backtest
    # words in any case, trimmed of any whitespace; empty text and NULL are unknown (d, e), h is after T
    assert training == {"a": True, "b": False, "c": True, "f": True, "g": True, "i": False, "j": False}


def test_both_refuse_a_label_that_is_not_yes_no_like(store: Store) -> None:
    store.con.execute("UPDATE contacts SET converted = 'maybe' WHERE contact_id = 'b'")
    plan = plan_features(store, until=T, exclude={"converted"})
    with pytest.raises(LeadscoreError, match="'maybe'"):
        _property_rows(store, plan, "converted", T, seed=0)
    with pytest.raises(LeadscoreError, match="'maybe'"):
        _backtest(store, Outcome(label="converted"))


def test_numeric_labels_are_one_or_zero(store: Store) -> None:
    store.con.execute("ALTER TABLE contacts ADD COLUMN paid DOUBLE")
    store.con.execute("UPDATE contacts SET paid = CASE WHEN contact_id IN ('a', 'b') THEN 1.0 ELSE 0.0 END")
    plan = plan_features(store, until=T, exclude={"paid", "converted"})
    rows = _property_rows(store, plan, "paid", T, seed=0)
    assert dict(zip(rows.table["contact_id"].to_pylist(), rows.y.tolist(), strict=True)) == _backtest(
        store, Outcome(label="paid"))
    assert int(rows.y.sum()) == 2
    store.con.execute("UPDATE contacts SET paid = 2 WHERE contact_id = 'a'")
    with pytest.raises(LeadscoreError, match="'2.0'"):
        _backtest(store, Outcome(label="paid"))


def test_data_end_knows_deals_without_a_close_date(store: Store) -> None:
    assert data_end(store) == datetime(2025, 7, 1)  # e's close; b's deal counts from its creation
    assert data_end(store, datetime(2025, 6, 7)) == datetime(2025, 6, 5)
