"""A whole-base run computed on a reading connection and written in parts: the server's schedule.

Decay and inactivity move every score without any event, so the server rescores the whole base on
a schedule. Run as one transaction on the writer (``run_model`` without contacts), that run holds
every real-time write back for its whole length: ~40 s at 1M contacts / 20M events on a loaded
machine. Here the run is split where it can be:

1. **staging**, off the writer: ``stage_model`` runs the model's compiled query for everyone on a
   reading cursor (a snapshot; real-time writes go on meanwhile) and keeps the result in memory,
   sorted by contact, each row with the ``run_id`` its contact's stored score had in that snapshot;
2. **parts**, each a short transaction on the writer: ``write_part`` writes a slice of contacts
   exactly as a whole-base run writes everyone (``_run``, history, scores, ``score_runs``, the
   workflow hook, which sees the run as whole-base, baseline rule included), skipping any contact
   whose score was written since the snapshot (a new event, a property, a ``set``: its score is
   newer than the staged one, and a real-time write always rewrites the contact's scores in the
   same transaction as the change);
3. ``finish_staged``: scores of contacts that existed in the snapshot but are not scored as of the
   run's instant (as a whole-base run drops them), and the run's ``score_runs`` row (scope
   ``all``: what "the current scores are as of" reads).

Every committed state is one a whole-base run could leave: each contact's score is the batch
query's at its own ``as_of``. A crash between parts leaves some contacts rescored and the others
as they were; the next run finishes the job. Parts are written in contact order, so ``scores``
ends up stored in contact order and reading one contact's score skips the rest of the table.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from leadscore.engine.run import (
    _NOT_THE_MODEL,
    ModelRunError,
    OnWritten,
    RunResult,
    baseline_unfinished,
    compiled_sql,
    make_run_table,
    mark_baseline,
    model_of,
    write_from_run,
)
from leadscore.model.spec import ScoringModel
from leadscore.storage.store import ModelVersion, Store, rows_affected
from leadscore.timeutil import utcnow

#: The relation a part's rows are registered as on the writer's connection.
PART = "_staged_part"


@dataclass
class Staged:
    """One model's whole-base scores as of ``as_of``, computed on a snapshot, not yet written."""

    version: ModelVersion
    model: ScoringModel
    as_of: datetime
    #: contact_id, score, tier, grade, g_0 … and ``seen_run`` (the run_id the snapshot saw), by contact
    table: pa.Table
    #: contacts that had a score in the snapshot but are not scored as of ``as_of``, with that run_id
    gone: list[tuple[str, str]]
    #: nobody had a score of this model in the snapshot: a first scoring fires no workflow
    baseline: bool
    seconds: float
    #: when the whole run began (``score_all_staged``): scores computed after it as of a later
    #: instant than ``as_of`` are newer than the staged ones and kept
    began: datetime
    started: float = field(default_factory=time.perf_counter)
    written: int = 0  #: contacts written so far
    skipped: int = 0  #: contacts rescored since the snapshot, left as they are
    changed: int = 0
    crossings: int = 0

    @property
    def contacts(self) -> int:
        return self.table.num_rows


def stage_model(reader: Store, version: ModelVersion, as_of: datetime | None, *,
                began: datetime | None = None) -> Staged:
    """Run a contact model's whole-base query on ``reader`` (a cursor no one writes through) and
    keep the result; a failure of the model's own query is a ``ModelRunError``. (Account models
    roll contact scores up; ``scoring.score_all_staged`` runs them whole after the contact models.)

    ``as_of=None`` means now, taken inside the snapshot: a real-time write committed before the
    snapshot is then older than the run's instant, so the staged score rightly replaces it (taken
    earlier, the snapshot could hold an event newer than the run's instant, whose score the staged
    one would overwrite with an older one). ``began`` is when the whole run started: a score the
    snapshot holds that was computed after it, as of a later instant than the run's, is newer than
    the staged one and is kept (``write_part``, ``finish_staged``)."""
    started = time.perf_counter()
    try:
        model = model_of(version)
        if not isinstance(model, ScoringModel):
            raise TypeError("an account model is not staged: it runs after the contact models")
    except Exception as exc:  # noqa: BLE001 - unreadable text or a refusal of the compiler: this model's
        raise ModelRunError(version, exc) from exc
    g = len(model.groups)
    con = reader.con
    con.execute("BEGIN TRANSACTION")  # one snapshot for the scores, what the contacts had, and the instant
    try:
        when = as_of if as_of is not None else utcnow()
        try:  # inside the snapshot: whether properties must be read from the history depends on it
            sql = compiled_sql(reader, model, when)
        except Exception as exc:  # noqa: BLE001 - a refusal of the compiler: this model's
            raise ModelRunError(version, exc) from exc
        try:
            table = con.sql(
                f"""SELECT q.contact_id, q.score, q.tier, q.grade, {", ".join(f"q.g_{i}" for i in range(g))},
                       p.run_id AS seen_run
                FROM ({sql}) AS q
                LEFT JOIN (SELECT contact_id, run_id FROM scores WHERE model = $model) AS p USING (contact_id)
                ORDER BY q.contact_id""", params={"model": version.model}).to_arrow_table()
        except _NOT_THE_MODEL:
            raise
        except duckdb.Error as exc:
            raise ModelRunError(version, exc) from exc
        con.register("_staged_ids", table.select(["contact_id"]))
        try:
            gone = [(str(c), str(r)) for c, r in con.execute(
                "SELECT contact_id, run_id FROM scores WHERE model = $model "
                "AND contact_id NOT IN (SELECT contact_id FROM _staged_ids)", {"model": version.model}).fetchall()]
        finally:
            con.unregister("_staged_ids")
        unfinished = baseline_unfinished(con, version.model)
    finally:
        con.execute("COMMIT")
    baseline = unfinished or (table.num_rows > 0 and table.column("seen_run").null_count == table.num_rows
                              and not gone)
    return Staged(version, model, when, table, gone, baseline, time.perf_counter() - started,
                  began=began or when)


def write_part(store: Store, staged: Staged, start: int, stop: int,
               on_written: OnWritten | None = None) -> PartResult:
    """Write the staged rows ``[start, stop)`` in the caller's transaction (see the module docstring).

    The part is a range of contacts, so the previous scores are read (and replaced) within that
    range, which DuckDB prunes to a few row groups once ``scores`` is stored in contact order.
    Nothing in ``staged`` changes here: the caller adds the returned figures once the part's
    transaction committed (``add_part``), so a part written again after a rollback counts once.
    A baseline run calls no hook (its first scoring fires nothing, even when resumed after a crash
    left some contacts scored).
    """
    part = staged.table.slice(start, stop - start)
    ids = part.column("contact_id")
    binds: dict[str, object] = {"model": staged.version.model, "lo": ids[0].as_py(), "hi": ids[-1].as_py(),
                                "began": staged.began, "staged_as_of": staged.as_of}
    in_range = " AND contact_id BETWEEN $lo AND $hi"
    g = len(staged.model.groups)
    sql = f"SELECT contact_id, score, tier, grade, {', '.join(f'g_{i}' for i in range(g))}, seen_run FROM {PART}"
    con = store.con
    con.register(PART, part)
    started = time.perf_counter()
    try:
        with store.transaction():
            if staged.baseline:
                mark_baseline(con, staged.version.model, True)
            # only contacts whose score is still the one the snapshot saw, and not one computed
            # since the run began as of a later instant (newer than the staged one)
            make_run_table(store, staged.version, staged.model, sql, binds, in_range,
                           where="WHERE p.run_id IS NOT DISTINCT FROM q.seen_run "
                                 "AND NOT coalesce(p.computed_at > $began AND p.as_of > $staged_as_of, false)")
            written = _count(con, "SELECT count(*) FROM _run")
            result = write_from_run(store, staged.version, staged.model, staged.as_of, [], binds,
                                    in_range + " AND contact_id IN (SELECT contact_id FROM _run)", {}, started,
                                    on_written, scope="part", whole=staged.baseline, fire=not staged.baseline)
    finally:
        con.unregister(PART)
    return PartResult(result, part.num_rows - written)


@dataclass(frozen=True)
class PartResult:
    """One written part: its run, and how many of its contacts were left as they were."""

    run: RunResult
    skipped: int


def add_part(staged: Staged, part: PartResult) -> None:
    """Count a committed part in the staged run's figures."""
    staged.skipped += part.skipped
    staged.written += part.run.contacts
    staged.changed += part.run.changed
    staged.crossings += part.run.crossings


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def finish_staged(store: Store, staged: Staged) -> RunResult:
    """Drop the scores of contacts not scored as of the run's instant (unless rewritten since),
    record the whole run in ``score_runs`` and count its tiers, in the caller's transaction."""
    con = store.con
    model = staged.version.model
    if staged.gone:
        con.register("_staged_gone", pa.table({"c": [c for c, _ in staged.gone], "r": [r for _, r in staged.gone]}))
        try:
            # a contact scored since the run began, as of a later instant, keeps that newer score
            con.execute("DELETE FROM scores WHERE model = $model AND EXISTS (SELECT 1 FROM _staged_gone g "
                        "WHERE g.c = scores.contact_id AND g.r = scores.run_id) "
                        "AND NOT coalesce(computed_at > $began AND as_of > $as_of, false)",
                        {"model": model, "began": staged.began, "as_of": staged.as_of})
            rows_affected(con)
        finally:
            con.unregister("_staged_gone")
    mark_baseline(con, model, False)
    run_id = uuid.uuid4().hex
    now = utcnow()
    con.execute("INSERT INTO score_runs (run_id, model, model_version, scope, as_of, started_at, finished_at, "
                "contacts, changed, crossings) VALUES (?, ?, ?, 'all', ?, ?, ?, ?, ?, ?)",
                [run_id, model, staged.version.version, staged.as_of, now, utcnow(), staged.contacts,
                 staged.changed, staged.crossings])
    counts = {str(t): int(n) for t, n in con.execute(
        "SELECT tier, count(*) FROM scores WHERE model = ? GROUP BY tier", [model]).fetchall()}
    tiers = {name: counts.get(name, 0) for name in staged.model.tiers}
    return RunResult(run_id, model, staged.version.version, staged.as_of, "all", staged.contacts,
                     staged.changed, staged.crossings, time.perf_counter() - staged.started, tiers,
                     {"stage": staged.seconds, "skipped": float(staged.skipped)})
