"""The leads list's rows of the server's real-time writes, rewritten moments after the write, in bulk.

Why: ``storage.lead_rows`` rewrote a contact's display rows in every transaction that rescored it.
At 1M contacts / 20M events that was ~7 ms of each single-event transaction and ~40% of a 500-event
batch's (a delete by 500 keys that scans the table, the 500 contacts' history and contact rows read
by index: 163 of 380 ms wall, docs/api.md "Session 10"), time every event behind it waited for. The
list is read by people, who do not notice a second; an event's sender waits for its commit.

How:

* Inside ``deferring(marks)`` (the server's writer wraps its end-of-group rescoring in it) a partial
  run's ``lead_rows.write_rows`` inserts the run's contacts into ``lead_rows_marked`` instead of
  rewriting their rows. The marks are rows of the store, committed with the scores they stand for:
  a crash loses none, and the server refreshes what a crash left before it takes writes.
* ``refresh`` rewrites every marked contact's rows (all its models) from their sources, as
  ``lead_rows.expected_sql`` computes them, and clears the marks, in the caller's transaction, one
  statement joined with the marks (at 1M contacts ~130-175 ms for 64 to 10,000 contacts: what a
  500-event batch alone spent on its rows by key; it reads the history whole, so its cost grows
  with the history: a review measured 44 ms at 1M history rows, 188 ms at 12M).
* ``Marks`` says when: ``IDLE`` after the last mark (no write came since: the writer is free) and
  ``GAP`` times the last refresh's length after it ended, or ``every`` seconds after the oldest mark
  while writes keep coming (``server.list_refresh_seconds``). The refresh is a writer job of its own
  that holds the whole writer, both lanes (``api/runtime.py``): jobs already waiting go first, and
  ``GAP`` keeps refreshes to a fifth of the writer's time when events trickle in. A row is therefore
  stale for at most ``every`` seconds plus the writer's queue and the refresh itself; the lead
  page, the API and workflows read ``scores``, never these rows.

Whole-base runs, staged parts, imports, property writes and predictions still write their rows in
their own transactions (``lead_rows``); a marked contact's later refresh recomputes from the same
sources, so the two never disagree for longer than the mark lives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from leadscore.faults import fault_point
from leadscore.storage import lead_rows
from leadscore.storage.lead_rows import COLUMNS, TABLE, expected_sql
from leadscore.storage.store import Store

#: contacts whose rows a committed real-time run left to refresh (migration 14)
MARKED = "lead_rows_marked"
CREATE = f"CREATE TABLE {MARKED} (contact_id VARCHAR NOT NULL)"
#: marks are refreshed once no write has marked contacts for this long ...
IDLE = 0.1
#: ... and the last refresh ended at least this many times its own length ago: a refresh holds the
#: whole writer (both lanes), so events arriving just over ``IDLE`` apart must not each pay one
#: (at 1M contacts a refresh of a few contacts took 0.2 s by semi-join): refreshes take at most
#: ~1/(1 + GAP) of the writer's time on idle triggers
GAP = 4.0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 14: the marks' table (empty: every row is written as of this version)."""
    con.execute(CREATE)


class Marks:
    """The server's contacts marked and not yet refreshed, and when to refresh them. Marked by the
    writer's two lanes (a refresh claims the whole writer, so no mark lands during one); ``due``
    is asked from another thread."""

    def __init__(self, every: float) -> None:
        self.every = every
        #: ``time.monotonic()`` of the oldest mark not refreshed, and of the latest mark
        self.first: float | None = None
        self.last = float("-inf")
        self.refreshed = 0  # contacts refreshed since start (metrics, tests)
        #: how long the last refresh took, and when it ended (``GAP``)
        self.cost = 0.0
        self.done = float("-inf")

    def mark(self, con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
        """Mark a run's contacts in its transaction (``lead_rows.write_rows`` under ``deferring``)."""
        con.execute(f"INSERT INTO {MARKED} SELECT unnest($ids::VARCHAR[])", {"ids": ids})
        self.last = time.monotonic()
        if self.first is None:
            self.first = self.last

    def due(self, now: float | None = None) -> bool:
        """Whether marks wait and the writer has been free of marking writes for ``IDLE`` (and of
        refreshes for ``GAP`` times the last one's length), or the oldest has waited ``every``
        seconds."""
        now = time.monotonic() if now is None else now
        first = self.first
        if first is None:
            return False
        idle = now - self.last >= IDLE and now - self.done >= GAP * self.cost
        return idle or now - first >= self.every

    def refresh(self, store: Store) -> int:
        """``refresh`` in the store's open transaction; the marks count as waiting again if it
        does not commit."""
        first, self.first = self.first, None

        def finished(committed: bool) -> None:
            if not committed and first is not None:
                self.first = first if self.first is None else min(first, self.first)

        store.on_finish(finished)
        fault_point("lead_rows.refresh")
        started = time.monotonic()
        n = refresh(store.con)
        self.done = time.monotonic()
        self.cost = self.done - started
        self.refreshed += n
        return n


@contextmanager
def deferring(marks: Marks) -> Iterator[None]:
    """Partial runs inside this block mark their contacts in ``marks`` instead of writing rows."""
    token = lead_rows.LATER.set(marks.mark)
    try:
        yield
    finally:
        lead_rows.LATER.reset(token)


def refresh(con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite the rows of every marked contact from scores, history, contacts and predictions and
    clear the marks, in the caller's transaction; returns how many contacts. One statement joined
    with the marks whatever their number: refreshing a few contacts by bound keys instead was
    measured no cheaper (200k contacts, 12M history rows, load ~10: 1 contact 187 ms wall, 64
    contacts 501 ms, against 436 ms for 500 joined)."""
    row = con.execute(f"SELECT count(DISTINCT contact_id) FROM {MARKED}").fetchone()
    n = int(row[0]) if row else 0
    if not n:
        return 0
    con.execute(f"DELETE FROM {TABLE} WHERE contact_id IN (SELECT contact_id FROM {MARKED})")
    con.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {expected_sql(con, scope=MARKED)} ORDER BY model, contact_id")
    con.execute(f"DELETE FROM {MARKED}")
    return n
