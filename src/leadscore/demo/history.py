"""The property history of the synthetic world: when each contact's lifecycle stage changed.

A CRM export shows each contact's *current* stage: a customer is "customer", although it was a
lead when a score as of last spring would have been computed. The demo therefore ships the
changes too, as a history file in the long format ``leadscore import history`` reads, so that
scores, backtests and predictive training as of a past date read the stage of that date:

* every contact that moved on started as a ``lead``, assumed since its ``created_at`` (a row
  without a change time); contacts still ``subscriber`` or ``lead`` have no change at all;
* a keen contact became a ``marketingqualifiedlead`` at the peak of its buying burst;
* a contact with a deal became an ``opportunity`` when the deal was created, and a ``customer``
  when its won deal closed;
* ``updated_at`` moves with each change, and with the last activity the contact row shows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.demo.deals import STAGES
from leadscore.demo.events import EventPlan

SCHEMA = pa.schema([("contact_id", pa.string()), ("property", pa.string()), ("value", pa.string()),
                    ("changed_at", pa.timestamp("us"))])


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]").astype("datetime64[us]"))


def _rows(ids: pa.Array, who: np.ndarray, prop: str, values: pa.Array, when: np.ndarray | None) -> pa.Table:
    times = pa.nulls(len(who), pa.timestamp("us")) if when is None else _ts(when)
    return pa.table([ids.take(pa.array(who)), pa.array([prop] * len(who), pa.string()), values, times],
                    schema=SCHEMA)


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    """A timestamp column as epoch seconds (-1 where NULL)."""
    micros = pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64()).fill_null(-1_000_000)
    return np.asarray(micros.to_numpy()) // 1_000_000


def stage_history(plan: EventPlan, stage: pa.Array, created: np.ndarray, deals: pa.Table,
                  updated: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The history rows (``contact_id, property, value, changed_at``) and each contact's final
    ``updated_at`` in seconds: its last activity, or its last stage change when that came later."""
    n = len(created)
    final = np.asarray(pc.index_in(stage, pa.array(STAGES, pa.string())).to_numpy(zero_copy_only=False))
    owner = np.asarray(pc.index_in(deals["contact_id"], plan.contact_ids).to_numpy(zero_copy_only=False))
    opened, won = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    opened[owner] = _seconds(deals["created_at"])
    is_won = np.asarray(pc.equal(deals["status"], "won").to_numpy(zero_copy_only=False), dtype=bool)
    won[owner[is_won]] = _seconds(deals["closed_at"])[is_won]
    mql, deal, customer = (np.flatnonzero(final == 2), np.flatnonzero(final >= 3), np.flatnonzero(final == 4))
    changes = [(mql, STAGES[2], np.clip(plan.peak_s[mql], created[mql], plan.end_s)),
               (deal, STAGES[3], np.maximum(opened[deal], created[deal])),
               (customer, STAGES[4], np.maximum(won[customer], opened[customer] + 1))]
    last_change = np.zeros(n, dtype=np.int64)
    for who, _, when in changes:
        last_change[who] = np.maximum(last_change[who], when)
    moved = np.flatnonzero(final >= 2)
    parts = [_rows(plan.contact_ids, moved, "lifecycle_stage", pa.array(["lead"] * len(moved), pa.string()), None),
             _rows(plan.contact_ids, moved, "updated_at", pc.strftime(_ts(created[moved]), "%Y-%m-%d %H:%M:%S"),
                   None)]
    for who, to, when in changes:
        parts.append(_rows(plan.contact_ids, who, "lifecycle_stage", pa.array([to] * len(who), pa.string()), when))
        parts.append(_rows(plan.contact_ids, who, "updated_at", pc.strftime(_ts(when), "%Y-%m-%d %H:%M:%S"), when))
    active = moved[updated[moved] > last_change[moved]]  # activity after the last change moves it again
    parts.append(_rows(plan.contact_ids, active, "updated_at",
                       pc.strftime(_ts(updated[active]), "%Y-%m-%d %H:%M:%S"), updated[active]))
    return pa.concat_tables(parts), np.maximum(updated, last_change)
