"""The score benchmark's property history: changes to the properties the bench model reads.

Issue 14's bar: scoring *now* stays exactly as fast with a history in the store (the current
values stay in ``contacts``; history is read only for a past as-of), and scoring *as of* a past
date with about five changes per contact costs at most 1.5× scoring now. ``add_history`` gives
every contact between none and twice ``per_contact`` changes (``per_contact`` on average) to ``job_title``,
``company_size``, ``industry`` and ``email`` (which ``email_domain`` and ``is_free_email`` follow),
at times spread over the data's last year; each property's latest change sets the value the
contact holds, so the current values (and the scores now) are those of the data set. The rows go
in through ``storage.history.record_changes``, the writer every import uses.

``history_overhead`` then times the compiled query as of the past date with and without reading
the history (the second one reads today's properties: wrong, but the same work otherwise), which
isolates what the history costs from what fewer visible events save.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from leadscore.compiler import compile_model
from leadscore.engine.run import HISTORY_TABLE
from leadscore.model.loader import parse_model
from leadscore.storage.history import record_changes, stage_table
from leadscore.storage.store import Store

#: The properties the bench model reads, each with the SQL of a random other value for row ``i``.
CHANGING = {
    "job_title": "['CEO', 'CMO', 'Engineer', 'Student', 'Sales Manager', 'VP Sales'][1 + (h % 6)::BIGINT]",
    "company_size": "CAST(10 + h % 5000 AS VARCHAR)",
    "industry": "['SaaS', 'Fintech', 'Retail', 'Health', 'Education'][1 + (h % 5)::BIGINT]",
    "email": "'p' || CAST(h % 100000 AS VARCHAR) || ['@gmail.com', '@acme.io', '@uni.edu'][1 + (h % 3)::BIGINT]",
}


def add_history(store: Store, as_of: datetime, per_contact: float, seed: int) -> int:
    """Record about ``per_contact`` changes per contact over the year before ``as_of``; returns
    the changes stored (see the module docstring)."""
    con = store.con
    properties = list(CHANGING)
    picks = ", ".join(f"'{p}'" for p in properties)
    values = " ".join(f"WHEN '{p}' THEN {sql}" for p, sql in CHANGING.items())
    current = " ".join(f"WHEN '{p}' THEN CAST(c.\"{p}\" AS VARCHAR)" for p in properties)
    year_us = 365 * 86_400_000_000
    stage = stage_table(con)
    with store.transaction():
        # each contact gets 0..2×per_contact changes, uniformly: per_contact on average
        con.execute(f"""INSERT INTO {stage}
            WITH n AS (
                SELECT contact_id, CAST(hash(contact_id, {seed}) % {int(2 * per_contact) + 1} AS BIGINT) AS k
                FROM contacts),
            rows AS (
                SELECT n.contact_id, r.i, CAST(hash(n.contact_id, r.i, {seed}) >> 2 AS BIGINT) AS h
                FROM n, range(n.k) r(i)),
            changes AS (
                SELECT contact_id, [{picks}][1 + (h % {len(properties)})::BIGINT] AS property, h,
                       CAST($as_of AS TIMESTAMP) - to_microseconds(CAST(h % {year_us} AS BIGINT)) AS changed_at
                FROM rows)
            SELECT x.contact_id, x.property,
                   CASE WHEN row_number() OVER (PARTITION BY x.contact_id, x.property ORDER BY x.changed_at DESC) = 1
                        THEN CASE x.property {current} END
                        ELSE CASE x.property {values} END END,
                   x.changed_at, NULL, false, x.h
            FROM changes x JOIN contacts c USING (contact_id)""", {"as_of": as_of})
        recorded = record_changes(con, source="bench", now=as_of, current_written=False)
    return recorded.recorded


def history_overhead(store: Store, model_yaml: str, as_of: datetime, runs: int = 2) -> tuple[float, float]:
    """(best seconds with the history read, best seconds without) of the compiled query as of
    ``as_of``, each materialised into a temp table."""
    model = parse_model(model_yaml, "bench.yml").contact_model
    contacts, events = store.scoring_columns()
    timings = []
    for history in (HISTORY_TABLE, None):
        sql = compile_model(model, as_of=as_of, contact_columns=contacts, event_columns=events,
                            history_table=history).sql(dialect="duckdb")
        best = float("inf")
        for _ in range(runs):
            store.con.execute("DROP TABLE IF EXISTS __bench_asof")
            started = time.perf_counter()
            store.con.execute(f"CREATE TEMP TABLE __bench_asof AS {sql}")
            best = min(best, time.perf_counter() - started)
        timings.append(best)
    store.con.execute("DROP TABLE IF EXISTS __bench_asof")
    return timings[0], timings[1]


def default_as_of(now: datetime) -> datetime:
    """The past date the as-of figure is taken at: half a year back, so about half the changes
    of the year came after it (heavier than a 90-day backtest)."""
    return now - timedelta(days=182)
