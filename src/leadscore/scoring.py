"""One home for a score run: from "scores as of T, please" to stored scores and what they set off.

Every caller that writes scores comes through here — ``leadscore score`` (``library.score`` and
``library.score_one``), the server's real-time rescoring (``api/runtime.py``), its schedule, a
publish that rescores, the demo build — and nothing else calls the engine to write scores::

    caller: parses as_of once (a datetime from here on), names the models or not
      └─ score_all(store, as_of=T)  /  score_contacts(store, ids, as_of=T)
           1. picks the models: the latest published version of each (or of the named ones),
              minus those a ``Quarantine`` holds (their query failed lately)
           2. runs the engine once per model: ``engine.run.run_model`` writes scores, history,
              tier crossings and the run record, and calls the ``workflows.WorkflowHook`` inside
              the run's transaction (outbox rows, tasks, `set`, lists)
           3. settles: contacts whose properties a `set` changed are scored again with every
              model, in the same transaction, so no stale score is ever committed

Account models (``level: account``) score companies through the same engine call: a whole-base
run scores every company; ``score_contacts`` also rescores, with every account model, the
companies of the contacts it scores (their events count for their company), and
``score_companies`` rescores some companies directly (a company's own properties changed, or a
contact left it).

Transactions: ``score_all`` gives each model its own transaction (a whole-base run of a big base
is long; a failing model rolls back alone), its settling included. ``score_contacts`` runs every
model in one transaction and joins the caller's (the API commits an event, its contact's new
scores and the queued actions together); the engine reads only those contacts' rows
(``engine.realtime``, by key, through the server's lookup indexes). ``score_all_staged`` is
``score_all`` for a server that must keep writing meanwhile: each model's query runs on a reading
cursor, and its results are written in short transactions, each with its hook and settling
(``engine.staged``), so real-time writes wait at most one part, not the whole run.

A published model never breaks the others: a model whose query fails (``ModelRunError``) is
reported in ``ScoreRuns.failures`` and the other models still score. When ``score_contacts``
joins a caller's transaction, that transaction is lost with the failure; the model goes into the
caller's ``Quarantine`` and the caller reruns its transaction, which then skips the model.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from leadscore.engine.account_sql import companies_of, contact_models_for, is_account
from leadscore.engine.run import (
    ROWID_KEYS,
    ModelRunError,
    RunContext,
    RunResult,
    model_of,
    run_model,
    unordered_writes,
)
from leadscore.engine.staged import PartResult, Staged, add_part, finish_staged, stage_model, write_part
from leadscore.engine.stored_scores import StoredScores
from leadscore.errors import BackendError, LeadscoreError
from leadscore.faults import fault_point
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import contact_model, parse_model
from leadscore.model.validate import validate_model
from leadscore.storage import lead_rows
from leadscore.storage.store import ModelVersion, Store
from leadscore.timeutil import utcnow
from leadscore.workflows.external import pull_for
from leadscore.workflows.hook import WorkflowHook, WorkflowStats

if TYPE_CHECKING:
    import duckdb

    from leadscore.engine.backends import Backend, RunRecord
    from leadscore.model.spec import ScoringModel
    from leadscore.predictive.predict import PredictResult

log = logging.getLogger("leadscore.scoring")

#: Rounds of rescoring the contacts that ``set`` actions changed. One is enough unless a workflow
#: fired by the rescore sets properties again; two workflows undoing each other would loop, so
#: after this many rounds the contacts still changing are scored once more without firing.
SETTLE_ROUNDS = 3

#: How long a model whose query failed is skipped by the real-time path before it is tried again
#: (a new version of it is tried at once).
QUARANTINE_SECONDS = 600.0

#: A staged whole-base run writes parts sized to take about this long each (the size adapts to the
#: machine), so a real-time write queued behind one waits about this much; but never more than
#: MAX_PARTS parts per model (each reads the previous scores of its range: on a ``scores`` table
#: not yet stored in contact order that read costs the same for a small part as for a big one).
PART_SECONDS = 0.04
FIRST_PART, MIN_PART, MAX_PART, MAX_PARTS = 2_000, 200, 100_000, 400

T = TypeVar("T")
#: Runs ``fn(store)`` in a transaction of its own on the writing connection and returns its value
#: (the server hands it to its writer thread; elsewhere ``lambda fn: fn(store)``).
WriteCall = Callable[[Callable[[Store], T]], T]


@dataclass(frozen=True)
class ModelFailure:
    """A model that could not be scored in this request; the others were."""

    model: str
    version: int
    error: str


class ScoreRuns(list[RunResult]):
    """The runs of one scoring request (a list, one ``RunResult`` per model that scored), plus
    what happened around them: ``workflows`` (what the hook did), ``failures`` (models that could
    not be scored), ``stored`` (``score_contacts`` for a few contacts: their ``scores`` rows as the
    transaction left them, ``engine.stored_scores``) and, filled by ``library.score``,
    ``predicted`` (the predictions refreshed at the same as-of) and ``waiting`` (deliveries the
    worker has yet to send)."""

    def __init__(self, runs: Sequence[RunResult] = (), *, workflows: WorkflowStats | None = None,
                 failures: Sequence[ModelFailure] = (), stored: StoredScores | None = None) -> None:
        super().__init__(runs)
        self.workflows = workflows if workflows is not None else WorkflowStats()
        self.failures = list(failures)
        self.stored = stored
        self.predicted: PredictResult | None = None
        self.waiting = 0


class Quarantine:
    """Models whose query failed lately, skipped by the real-time path until they expire.

    Held by a long-lived caller (the server's runtime); keyed by model and text hash, so
    publishing a fixed version takes effect at once.
    """

    def __init__(self, seconds: float = QUARANTINE_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._held: dict[tuple[str, str], tuple[ModelFailure, float]] = {}

    def hold(self, error: ModelRunError) -> ModelFailure:
        failure = ModelFailure(error.model, error.version, str(error))
        if (error.model, error.hash) not in self._held:
            log.error("%s; it is skipped for %g s (the other models still score)", error, self.seconds)
        self._held[(error.model, error.hash)] = (failure, self._clock() + self.seconds)
        return failure

    def holds(self, version: ModelVersion) -> ModelFailure | None:
        found = self._held.get((version.model, version.hash))
        if found is None:
            return None
        if found[1] < self._clock():
            del self._held[(version.model, version.hash)]
            return None
        return found[0]

    def release(self, version: ModelVersion) -> None:
        """A whole-base run of the model's latest version succeeded: forget its failures."""
        self._held = {key: held for key, held in self._held.items() if key[0] != version.model}

    def __len__(self) -> int:
        return len(self._held)


class RunHook:
    """The ``on_written`` hook of a run in the store: the leads list's rows of a contact model
    (``storage.lead_rows``: always, in the run's transaction, so the list never disagrees with the
    scores) and then the workflows (``workflows``; None: a settling round that fires nothing)."""

    def __init__(self, workflows: WorkflowHook | None) -> None:
        self.workflows = workflows

    def __call__(self, con: duckdb.DuckDBPyConnection, ctx: RunContext) -> None:
        if not isinstance(ctx.model, AccountModel):
            # a staged part names no contacts (``[]``): its rows are those of ``_run``, as a whole run's
            lead_rows.write_rows(con, ctx.version.model, ctx.as_of, ctx.contact_ids or None)
        if self.workflows is not None:
            self.workflows(con, ctx)


def _finish_staged(store: Store, *, staged: Staged) -> RunResult:
    """``finish_staged`` and the leads list's rows of the contacts it left unscored."""
    run = finish_staged(store, staged)
    if staged.gone:
        lead_rows.drop_unscored(store.con, staged.version.model)
    return run


def score_all(store: Store, *, as_of: datetime, models: Sequence[str] | None = None,
              quarantine: Quarantine | None = None, backend: Backend | None = None) -> ScoreRuns:
    """Score every contact with every published model (or the named ones) as of ``as_of``.

    With ``backend`` (Spark, Postgres: ``engine.backends``) the models run where the data lives
    and write their scores there; the store records the runs and fires their workflows
    (``_score_external``).

    Each model runs in its own transaction together with its settling; a model that fails is
    rolled back alone, reported in ``failures`` (and held in ``quarantine`` when given) while the
    others score. A model that succeeds is released from ``quarantine``.

    Inside a caller's transaction (the server's writer) a failure cannot be rolled back alone: the
    model is held and the ``ModelRunError`` raised for the caller to rerun, and models held in
    ``quarantine`` are skipped (reported in ``failures``).
    """
    if backend is not None:
        return _score_external(store, backend, as_of=as_of, models=models)
    held = quarantine if quarantine is not None else Quarantine()
    joined = store.in_transaction
    out = ScoreRuns()
    failed: dict[str, ModelFailure] = {}
    everything = store.latest_versions()
    versions = _chosen(store, everything, models)
    if joined:  # a failure cannot be rolled back alone here: leave out what already failed
        failed = {v.model: f for v in everything if (f := held.holds(v)) is not None}
    with unordered_writes(store):
        for i, version in enumerate(versions):
            # settling leaves out the models still to run here: they score everyone next anyway
            leave_out = {v.model for v in versions[i + 1:]}
            while version.model not in failed:
                hook = WorkflowHook(store)
                try:
                    with store.transaction():
                        run = run_model(store, version, as_of=as_of, on_written=RunHook(hook))
                        fault_point("score.before_settle")
                        _settle(store, hook, as_of, skip=leave_out | set(failed))
                except ModelRunError as exc:  # this model, or another one while settling: retry without it
                    if exc.model in failed:  # failed again although left out: never loop
                        raise
                    failed[exc.model] = held.hold(exc)
                    if joined:
                        raise
                    continue
                held.release(version)
                out.append(run)
                _add_stats(out.workflows, hook.stats)
                break
    chosen = {v.model for v in versions}
    out.failures = [f for name, f in failed.items() if name in chosen]
    if out.workflows.resettled:  # a whole-base run's tier counts describe the scores as they now stand
        for run in out:
            run.tier_counts = {tier: 0 for tier in run.tier_counts} | {
                str(tier): int(n) for tier, n in store.con.execute(
                    f"SELECT tier, count(*) FROM {'account_scores' if run.level == 'account' else 'scores'} "
                    "WHERE model = ? GROUP BY tier", [run.model]).fetchall()}
    return out


def score_contacts(store: Store, contact_ids: Sequence[str], *, as_of: datetime,
                   models: Sequence[str] | None = None, quarantine: Quarantine | None = None,
                   companies: Sequence[str] = ()) -> ScoreRuns:
    """Score some contacts with every published model (or the named ones) in one transaction, and
    fire the workflows they trigger: the real-time path (same numbers as a whole-base run).

    Account models rescore the companies of those contacts (and ``companies``: one a contact has
    just left, say) in the same transaction.

    Joins the caller's open ``store.transaction()``. If a model fails there, the caller's
    transaction is lost: the model is held in ``quarantine`` and the ``ModelRunError`` raised, so
    the caller reruns its transaction (the API's writer does), this time without that model.
    Without an outer transaction the rerun happens here.
    """
    return _score_some(store, list(dict.fromkeys(contact_ids)), list(companies), as_of=as_of, models=models,
                       quarantine=quarantine)


def score_companies(store: Store, company_ids: Sequence[str], *, as_of: datetime,
                    models: Sequence[str] | None = None, quarantine: Quarantine | None = None) -> ScoreRuns:
    """Score some companies with every published account model (or the named ones) in one
    transaction, firing their workflows; joins the caller's transaction like ``score_contacts``."""
    return _score_some(store, [], list(company_ids), as_of=as_of, models=models, quarantine=quarantine)


def _score_some(store: Store, ids: list[str], extra_companies: list[str], *, as_of: datetime,
                models: Sequence[str] | None, quarantine: Quarantine | None) -> ScoreRuns:
    """The real-time path: contact models for ``ids``, account models for their companies and
    ``extra_companies``, settling included, in one transaction."""
    if not ids and not extra_companies:
        return ScoreRuns()
    held = quarantine if quarantine is not None else Quarantine()
    joined = store.in_transaction
    while True:
        everything = store.latest_versions()
        # every held model is left out, the named ones and those settling would run alike
        held_now = {v.model: f for v in everything if (f := held.holds(v)) is not None}
        named = _chosen(store, everything, models)
        versions = [v for v in named if v.model not in held_now]
        hook = WorkflowHook(store)
        try:
            with store.transaction():
                # a few contacts: every model's rows read once, not once per model plus a read-back
                # (the contact models that may run: a held one has no rows to vouch for)
                stored = (StoredScores.read(store, ids, [v.model for v in everything
                                                         if not is_account(v) and v.model not in held_now])
                          if 0 < len(ids) <= ROWID_KEYS else None)
                runs = _run_some(store, versions, ids, extra_companies, as_of=as_of, hook=hook, stored=stored)
                _settle(store, hook, as_of, skip=set(held_now), stored=stored)
        except ModelRunError as exc:
            if exc.model in held_now:  # failed again although left out: never loop
                raise
            held.hold(exc)
            if joined:
                raise
            continue
        names = {v.model for v in named}
        return ScoreRuns(runs, workflows=hook.stats, failures=[f for m, f in held_now.items() if m in names],
                         stored=stored)


def _run_some(store: Store, versions: Sequence[ModelVersion], contact_ids: list[str], companies: list[str], *,
              as_of: datetime, hook: WorkflowHook | None, stored: StoredScores | None = None) -> list[RunResult]:
    """Run each version for some contacts: a contact model for ``contact_ids``, an account model for
    their companies plus ``companies`` (none to score: the account model does not run); ``stored``
    is the contacts' rows read once for every model (``engine.stored_scores``)."""
    runs: list[RunResult] = []
    company_ids: list[str] | None = None
    for version in versions:
        if is_account(version):
            if company_ids is None:  # membership is a property of the data, the same for every model
                company_ids = list(dict.fromkeys(companies_of(store, contact_ids) + companies))
            if company_ids:
                runs.append(run_model(store, version, as_of=as_of, contact_ids=company_ids, on_written=RunHook(hook)))
        elif contact_ids:
            runs.append(run_model(store, version, as_of=as_of, contact_ids=contact_ids, on_written=RunHook(hook),
                                  stored=stored))
    return runs


def _chosen(store: Store, everything: list[ModelVersion], models: Sequence[str] | None) -> list[ModelVersion]:
    """The latest versions of the named models (all when ``models`` is None or empty, as before);
    an unknown name is a NotFoundError naming what is published."""
    if not models:
        return everything
    by_name = {v.model: v for v in everything}
    for name in models:
        if name not in by_name:
            store.get_version(name)  # raises the NotFoundError naming what is published
    return [by_name[name] for name in dict.fromkeys(models)]


def score_all_staged(reader: Store, write: WriteCall[Any], *, as_of: datetime | None,
                     models: Sequence[str] | None = None, quarantine: Quarantine | None = None) -> ScoreRuns:
    """``score_all`` without holding the writer for the whole run (``engine.staged``).

    Each model's whole-base query runs on ``reader`` (a cursor of the same store that no one else
    uses) while writes go on; then ``write`` writes its results in parts, each a transaction with
    the run's workflow hook and the settling of its ``set`` actions, and a last one records the
    run. A contact rescored since the query's snapshot keeps its newer score. A model whose query
    fails is reported in ``failures`` (and held in ``quarantine``) while the others score.

    ``as_of=None`` scores as of now, each model as of the instant of its own snapshot
    (``engine.staged.stage_model``); account models then score as of the end of the contact models.
    """
    held = quarantine if quarantine is not None else Quarantine()
    out = ScoreRuns()
    failed: dict[str, ModelFailure] = {}
    accounts: list[str] = []
    run_began = utcnow()
    for version in _chosen(reader, reader.latest_versions(), models):
        if is_account(version):  # rolls contact scores up: after them (below)
            accounts.append(version.model)
            continue
        try:
            staged = stage_model(reader, version, as_of, began=run_began)
        except ModelRunError as exc:
            failed[version.model] = held.hold(exc)
            continue
        fault_point("score.staged")  # computed, nothing written: writes go on meanwhile
        stats = WorkflowStats()
        start, size = 0, FIRST_PART
        smallest = max(MIN_PART, -(-staged.contacts // MAX_PARTS))
        while start < staged.contacts:
            stop = min(start + size, staged.contacts)
            began = time.perf_counter()
            part, hook_stats = write(partial(_write_staged, staged=staged, start=start, stop=stop, held=held))
            add_part(staged, part)  # committed: counted once, however often the writer ran the job
            _add_stats(stats, hook_stats)
            took = time.perf_counter() - began
            size = max(smallest, min(MAX_PART, int((stop - start) * PART_SECONDS / max(took, 1e-3))))
            start = stop
            fault_point("score.between_parts")
        out.append(write(partial(_finish_staged, staged=staged)))
        held.release(version)
        _add_stats(out.workflows, stats)
    out.failures = list(failed.values())
    if accounts:  # companies are few: each account model's whole run is one writer job, as score_all runs it
        runs = write(partial(_score_all_in_writer, as_of=as_of or utcnow(), models=accounts, held=held))
        out.extend(runs)
        out.failures += runs.failures
        _add_stats(out.workflows, runs.workflows)
    return out


def _score_all_in_writer(store: Store, *, as_of: datetime, models: list[str], held: Quarantine) -> ScoreRuns:
    return score_all(store, as_of=as_of, models=models, quarantine=held)


def _write_staged(store: Store, *, staged: Staged, start: int, stop: int,
                  held: Quarantine) -> tuple[PartResult, WorkflowStats]:
    """One part of a staged run, its settling included (with every model the quarantine lets run);
    what it wrote and what its hook did, for the caller to count once the part committed."""
    hook = WorkflowHook(store)
    skip = {v.model for v in store.latest_versions() if held.holds(v) is not None}
    try:
        with store.transaction():
            part = write_part(store, staged, start, stop, on_written=RunHook(hook))
            fault_point("score.part_before_settle")
            _settle(store, hook, staged.as_of, skip=skip)
    except ModelRunError as exc:  # another model, while settling: held, and the part is written again
        held.hold(exc)
        raise
    return part, hook.stats


def _score_external(store: Store, backend: Backend, *, as_of: datetime,
                    models: Sequence[str] | None) -> ScoreRuns:
    """Every model on an external engine, one run each; the store records the runs and fires
    their workflows. Runs the engine committed earlier without the store recording them (a crash
    in between) are recorded first. A model the engine cannot run is reported in ``failures``
    while the others score; a model with a ``set`` action is refused (``workflows.external``)."""
    from leadscore.engine.backends import recorded_runs, store_identity

    out = ScoreRuns()
    store_id = store_identity(store)
    known = {(v.model, v.version): v for v in store.all_versions()}
    for record in backend.unrecorded(recorded_runs(store, backend.engine), store_id):
        version = known.get((record.model, record.model_version))
        if version is not None:
            log.warning("run %s of `%s` was committed by %s but not recorded here (interrupted?): recording it "
                        "now and firing its workflows", record.run_id, record.model, backend.engine)
            try:
                _record_external(store, backend, record, version, _external_model(store, version)[0],
                                 out.workflows)
            except LeadscoreError as exc:  # every later run retries it: say which run, and why
                raise BackendError(f"run {record.run_id} of `{record.model}` was committed by {backend.engine} but "
                                   f"cannot be recorded here: {exc}. Fix the cause and run `leadscore score` "
                                   "again; it records that run first") from exc
    chosen = _chosen(store, store.latest_versions(), models)  # account models after the contact models
    for version in sorted(chosen, key=is_account):
        try:
            model, contact_models = _external_model(store, version)
            _check_for_engine(version, backend, contact_models)
            if isinstance(model, AccountModel):
                record = backend.run_account_model(version, model, contact_models or {},
                                                   match_by_domain=store.match_by_domain, as_of=as_of,
                                                   run_id=uuid.uuid4().hex, computed_at=utcnow(), store_id=store_id)
            else:
                record = backend.run_model(version, model, as_of=as_of, run_id=uuid.uuid4().hex,
                                           computed_at=utcnow(), store_id=store_id)
        except LeadscoreError as exc:  # the model does not suit the engine, or the engine refused its query
            failure = ModelRunError(version, exc)
            out.failures.append(ModelFailure(failure.model, failure.version, str(failure)))
            continue
        out.append(_record_external(store, backend, record, version, model, out.workflows))
    return out


def _external_model(store: Store, version: ModelVersion
                    ) -> tuple[ScoringModel | AccountModel, dict[str, ScoringModel] | None]:
    """A published version as an engine runs it: a contact model, or an account model with the
    latest published contact models it rolls up (compiled into its query, as on DuckDB)."""
    parsed = model_of(version)
    if isinstance(parsed, AccountModel):
        return parsed, contact_models_for(store, parsed)[0]
    return contact_model(parsed, version.file or version.model), None


def _check_for_engine(version: ModelVersion, backend: Backend,
                      contact_models: dict[str, ScoringModel] | None = None) -> None:
    """The model against the engine's columns and what the engine can compute (a ``ModelError``
    names a ``set`` action, a non-portable pattern or an account workflow's ``if:``), before the
    engine is asked to run it."""
    loaded = parse_model(version.text, version.file or f"{version.model} v{version.version}")
    account = isinstance(loaded.model, AccountModel)
    validate_model(loaded, contact_columns=backend.columns("contacts"), event_columns=backend.columns("events"),
                   engine=backend.engine, company_columns=backend.columns("companies") if account else None,
                   contact_models=contact_models)


def _record_external(store: Store, backend: Backend, record: RunRecord, version: ModelVersion,
                     model: ScoringModel | AccountModel, stats: WorkflowStats) -> RunResult:
    """Record one engine run in the store, with its workflows fired over the rows pulled back."""
    from leadscore.engine.backends import record_external_run

    record.level = "account" if isinstance(model, AccountModel) else "contact"
    spec = pull_for(model)
    pulled = backend.pull(record, spec) if spec is not None and record.previous else None
    hook = WorkflowHook(store)
    run = record_external_run(store, backend, record, version, model, pulled, on_written=hook)
    _add_stats(stats, hook.stats)
    backend.finish(record)
    return run


def _settle(store: Store, hook: WorkflowHook, as_of: datetime, *, skip: Collection[str],
            stored: StoredScores | None = None) -> None:
    """Score again, with every published model, the contacts whose properties ``set`` changed (and
    the companies a ``set`` of ``company_id`` moved them out of).

    Every model, not just the one that ran: a property set by one model's workflow may be read by
    another's rules (all but those in ``skip``). The rescore's own crossings fire workflows like any
    run's. Runs inside the caller's transaction, so the scores it corrects are never committed stale;
    ``stored`` (the real-time path's view of its contacts' rows) learns what these runs write.
    """
    for _ in range(SETTLE_ROUNDS):
        changed = hook.take_changed(store.con)
        if not changed:
            return
        hook.stats.resettled += len(changed)
        versions = [v for v in store.latest_versions() if v.model not in skip]
        _run_some(store, versions, changed, hook.take_left(), as_of=as_of, hook=hook, stored=stored)
    changed = hook.take_changed(store.con)
    if changed:  # scored once more so scores match the properties, but nothing fires now
        hook.stats.unsettled = len(changed)
        versions = [v for v in store.latest_versions() if v.model not in skip]
        _run_some(store, versions, changed, hook.take_left(), as_of=as_of, hook=None, stored=stored)
        log.warning("workflow `set` actions still changed %d contacts after %d rescoring rounds "
                    "(do two workflows undo each other's change?); they were scored once more "
                    "without firing workflows", len(changed), SETTLE_ROUNDS)


def _add_stats(total: WorkflowStats, more: WorkflowStats) -> None:
    for f in fields(WorkflowStats):
        mine, theirs = getattr(total, f.name), getattr(more, f.name)
        if isinstance(mine, dict):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        else:
            setattr(total, f.name, mine + theirs)
