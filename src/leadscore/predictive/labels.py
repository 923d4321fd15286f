"""At which cut-offs a model may learn "converted", and the labels there.

What "converted" means is defined once, in ``predictive/conversion.py``, for training and backtests
alike. Two kinds of label:

* ``won`` (the default): the contact has a deal won within ``[cutoff, cutoff + horizon)``.
  A cut-off is usable only once its label window has closed (``cutoff + horizon <= until``), and
  contacts that had already won before the cut-off are left out: they are customers, not leads.
* a contact property holding a yes/no-like value (``--label converted``), for exports that carry
  only a converted flag. It has no time, so rows come from one moment and validation is a seeded
  random split. Contacts whose value is unknown (NULL, empty text) are left out.

Why the training cut-offs stop a whole horizon before the validation cut-off: otherwise their
label windows would overlap the validation window and a deal won there would be seen in training
too, flattering the validation metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.errors import LeadscoreError
from leadscore.predictive import conversion
from leadscore.predictive.features import arrow_table
from leadscore.storage.store import Store

#: Training cut-offs before the validation one (spaced ``CUTOFF_STEP_DAYS`` apart).
TRAIN_CUTOFFS = 3
CUTOFF_STEP_DAYS = 30


def data_end(store: Store, now: datetime) -> datetime:
    """The last moment the store knows anything about (events, deals), capped at ``now``.

    Training "as of now" on a store whose data stops in January must mean "as of January":
    otherwise every label window would lie in a future the store knows nothing of.
    """
    return conversion.data_end(store, now) or now


def plan_cutoffs(until: datetime, horizon_days: int, given: list[datetime] | None = None,
                 validate: datetime | None = None) -> list[datetime]:
    """Cut-offs oldest first; the last one validates, the others train (one alone: a random split).

    Default: validate at ``validate`` (or ``until - horizon``), train at one horizon before that
    and ``TRAIN_CUTOFFS - 1`` more, ``CUTOFF_STEP_DAYS`` apart.
    """
    horizon = timedelta(days=horizon_days)
    if given:
        cutoffs = sorted(set(given))
        late = [c for c in cutoffs if c + horizon > until]
        if late:
            raise LeadscoreError(
                f"cut-off {late[0]:%Y-%m-%d} is less than the horizon ({horizon_days} days) before "
                f"{until:%Y-%m-%d}: its label window has not closed yet; pick earlier cut-offs or a "
                "shorter --horizon")
        newest = cutoffs[-1]
        too_close = [c for c in cutoffs[:-1] if c + horizon > newest]
        if too_close:
            raise LeadscoreError(
                f"training cut-off {too_close[0]:%Y-%m-%d} is less than the horizon ({horizon_days} days) "
                f"before the validation cut-off {newest:%Y-%m-%d}: their label windows would overlap "
                "and validation would see deals training already saw")
        return cutoffs
    last = validate or until - horizon
    first_train = last - horizon
    trains = [first_train - timedelta(days=CUTOFF_STEP_DAYS * k) for k in range(TRAIN_CUTOFFS)]
    return sorted(trains) + [last]


def busiest_cutoff(store: Store, until: datetime, horizon_days: int) -> datetime:
    """The latest cut-off whose label window holds (nearly) the most won deals.

    Stores whose deals all close in a short stretch (one quarter's pipeline, a demo) would
    otherwise get a validation window with no outcomes in it. Only deals closed by ``until`` count.
    """
    horizon = timedelta(days=horizon_days)
    latest = until - horizon
    candidates = [latest - timedelta(days=7 * k) for k in range(53)]
    window = conversion.in_window("d.won_at", "c", "c + to_days($days)")
    counts = store.con.execute(
        f"""SELECT c, count(d.won_at) FROM unnest($cands) AS t(c)
            LEFT JOIN ({conversion.WON_DEALS}) d ON d.won_at <= $until AND {window}
            GROUP BY c""", {"cands": candidates, "until": until, "days": horizon_days}).fetchall()
    best = max((int(n) for _, n in counts), default=0)
    if best == 0:
        return latest
    return max(c for c, n in counts if n >= 0.8 * best)


def won_labels(store: Store, contact_ids: pa.Array, cutoff: datetime, horizon_days: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(won in ``[cutoff, cutoff + horizon)``, already won before ``cutoff``) for each contact.

    The SQL is ``conversion.won_by_contact_sql``, the same as the backtests' outcome
    (``reports/outcomes.py``), so a report and a trained model agree on who converted.
    """
    end = cutoff + timedelta(days=horizon_days)
    table = arrow_table(store, conversion.won_by_contact_sql("$cut", "$end"), {"cut": cutoff, "end": end})
    return lookup(contact_ids, table, "won"), lookup(contact_ids, table, "before")


def lookup(contact_ids: pa.Array, table: pa.Table, column: str, key: str = "contact_id") -> np.ndarray:
    """``table[column]`` (a boolean) for each id, False where ``table`` has no row for it."""
    index = pc.index_in(contact_ids, value_set=table[key].combine_chunks())
    values = table[column].combine_chunks()
    taken = values.take(pc.fill_null(index, 0)) if len(values) else pa.nulls(len(contact_ids), pa.bool_())
    hit = pc.and_(pc.is_valid(index), pc.fill_null(taken, False)) if len(values) else pa.array(
        np.zeros(len(contact_ids), bool))
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def property_labels(store: Store, column: str, contact_ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(label, known) from a yes/no-like contact property (``conversion.label_truth_sql``);
    contacts whose value is unknown (NULL, empty text) are left out of training."""
    columns = store.columns("contacts")
    if column not in columns:
        known = ", ".join(c for c in columns if c not in ("contact_id",))
        raise LeadscoreError(f"--label {column}: no such contact property (known: {known})")
    truth = conversion.label_truth_sql(store, column, "c")
    table = arrow_table(store, f"SELECT contact_id, v FROM (SELECT c.contact_id, {truth} AS v FROM contacts c) "
                               "WHERE v IS NOT NULL")
    index = pc.index_in(contact_ids, value_set=table["contact_id"].combine_chunks())
    known_mask = np.asarray(pc.is_valid(index).to_numpy(zero_copy_only=False), dtype=bool)
    return lookup(contact_ids, table, "v"), known_mask


def stratified_split(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded mask choosing ``share`` of the rows, the same share of positives and negatives."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(y), dtype=bool)
    for value in (False, True):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        chosen[rows[: int(round(share * len(rows)))]] = True
    return chosen
