"""The server's single writer: one thread owns the store's write connection and commits in groups.

DuckDB allows one writer, and a connection must not be used by two threads. Rather than a lock
that request threads queue on, every write is a job handed to one thread. While that thread
commits one group, others pile up; it then runs all waiting jobs in **one** transaction (group
commit), and the contacts they changed are rescored **once**, together, at the end of the group
(``WriteContext.rescore_later``): twenty concurrent single-event requests cost one rescoring
query per model and one commit, not twenty. A request's future resolves only after its
transaction committed, so "200 OK" means durable, scores included.

A job is ``fn(ctx) -> value`` plus an optional ``finish(ctx, value) -> result`` that runs after
the group's rescoring, still inside the transaction (to read the new scores into the response).
If a grouped transaction fails (one job raised), it is rolled back and each job is rerun alone
in its own transaction: the failing one gets its error, the others commit. Jobs must therefore
be plain functions of the store (no side effects outside it) that may run twice.

**Two lanes.** A job has a weight (``Weighted``: the events or contacts it writes; 1 otherwise).
Light jobs (a single event, a contact's PUT) never wait in a group behind batches: when both
kinds wait, the light ones go first, all together in one group, and then one group of heavy jobs
limited to ``HEAVY_BUDGET`` events, so a single event waits at most for one such group (the API
writes a batch larger than that in slices, each its own transaction). With 4 clients posting
batches of 1,000 and 4 posting single events on the demo store, single events waited p99 500 ms
behind groups of four batches; the figures with the lanes are in docs/reliability.md
(``tests/reliability/load.py``). Heavy jobs cannot starve: light and heavy groups alternate while
both wait.

**Heavy groups sized by time.** What a single event waits is one heavy group, and an event of a
batch costs ~0.1–0.16 ms to write and rescore on the demo store (a 1,000-event group took 100–160
ms, docs/reliability.md) but ~0.9 ms of CPU at 1M contacts / 20M events (a 500-event transaction
in process, docs/api.md): 1,000 events are a 100 ms wait on one and a second on the other. So the writer
keeps the seconds an event of a heavy group takes (a moving average) and, while light jobs have
been seen lately (``LIGHT_RECENT``), limits heavy groups to ``HEAVY_SECONDS`` of work (at least
``MIN_HEAVY`` events, or one job, whatever its size: a batch request of up to ``HEAVY_BUDGET``
events is one job, so it stays one transaction). With no light job about, heavy groups take up to
``HEAVY_BUDGET`` events again (one rescoring and one commit for all), so batches alone keep their
throughput.

**A side lane that commits beside heavy groups.** However small the heavy groups, a batch request
of up to ``HEAVY_BUDGET`` events is one job and one transaction (atomicity), ~0.5 s of work on the
demo store and more at 1M contacts: a single event queued behind it waited for all of it (single
p99 953 ms beside 4 batch clients on the demo store, 1,218 ms at 1M). So jobs that name the rows
they write (``Weighted(keys=...)``: contact ids, e-mails, event ids) take a second thread with a
connection of its own (``side``) when they are light: they run in their own transaction **while**
a heavy group runs on the main connection, and commit on their own. DuckDB's concurrency is
optimistic, so two lanes writing the same rows would fail at the second write; the lanes therefore
*claim* their jobs' keys (``_Claims``): a side job whose keys the running heavy group holds goes
to the main lane, to run after that group (it waits for it, as before, but the side lane's later
jobs do not), and a heavy group waits for a side group holding its keys (a few milliseconds;
meanwhile the side lane starts nothing clashing with it, so a stream of single events cannot hold
it back). Rows the keys do not cover (an account model's company rows in ``account_scores``; a
contact named by its e-mail in one lane and by its id in the other; a list or task a workflow
creates in both lanes) may still conflict, at a write or at COMMIT (a duplicate key). A side group
that lost such a conflict hands its jobs to the main lane (they run after the group they lost to);
a main-lane group that lost one claims everything (``ALL``: it waits for the side lane's running
group, and the side lane starts nothing more) and is rerun job by job, so the side lane cannot
commit under the rerun again (the worker's connection still can: ``CONFLICT_RETRIES`` bounds
that). A job without keys, or not groupable
(a staged part, a publish, a PUT, a Segment call), runs alone: the side lane starts nothing while
it runs, and it waits for the side lane's running group. ``on_end(committed)`` tells the caller
how each lane's transaction ended (``api.stored_keys.StoredKeys.settle``: in-memory hashes counted
per lane); the server's copy of the events by contact follows each lane's transaction through its
store's ``on_finish`` (``storage.events_by_contact``: each lane sees its own pending events and
the commits its snapshot shows). ``on_side(beside, after_main)`` counts, per group the side lane
took, the jobs it ran and those it handed to the main lane (``leadscore_write_side_jobs_total``):
those wait for the batch holding their contact, and with random contacts (~5% of single events
beside 4 clients' batches of 1,000 on the 20k-contact demo store) they set the single events' p99.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import duckdb

from leadscore.engine.run import ModelRunError
from leadscore.engine.stored_scores import StoredScores
from leadscore.faults import fault_point
from leadscore.storage.store import Store

T = TypeVar("T")
log = logging.getLogger("leadscore.api")

#: Jobs run in one transaction at most; bounds the latency one commit adds to a waiting request.
MAX_GROUP = 64
#: A job writing at most this many events or contacts goes in the light lane.
LIGHT = 20
#: Events (or contacts) a group of heavy jobs holds at most: its time is what a light job may wait.
#: The API writes a larger batch request in slices of this size (routes_events.post_events).
HEAVY_BUDGET = 1000
#: While light jobs are about, a heavy group holds about this much work ...
HEAVY_SECONDS = 0.05
#: ... but at least this many events (a slice's fixed costs: its statements and commit).
MIN_HEAVY = 50
#: Light jobs count as "about" for this long after the last one arrived.
LIGHT_RECENT = 2.0
#: DuckDB's concurrency is optimistic: a write conflicting with another connection's commit fails
#: and is simply run again.
CONFLICT_RETRIES = 3
#: A published model whose query fails is put in quarantine by ``leadscore.scoring`` and the job
#: run again without it; this bounds the reruns (one per broken model).
MODEL_FAILURE_RETRIES = 8


class WriteContext:
    """What a job sees: the store (inside the group's transaction) and the deferred rescoring."""

    def __init__(self, store: Store):
        self.store = store
        self.pending: dict[str, None] = {}
        #: after the rescoring: the rescored contacts' ``scores`` rows as they now stand, when the
        #: flush kept them (a few contacts: ``engine.stored_scores``), for finishers to answer from
        self.stored: StoredScores | None = None

    def rescore_later(self, contact_ids: Iterable[str]) -> None:
        """Rescore these contacts at the end of the group, before commit (once for all jobs)."""
        self.pending.update(dict.fromkeys(contact_ids))


#: rescore the contacts a group changed (runs inside the group's transaction); returns their rows
#: when it kept them
Flush = Callable[[Store, list[str]], StoredScores | None]


class Weighted:
    """A job with its size: ``rt.write(Weighted(job, len(events)))``; ``heavy=True`` keeps a small
    slice of a large request in the heavy lane, behind the request's earlier slices. ``keys`` names
    every row key the job may write (contacts, e-mails, event ids; see ``claim_keys``): such a job
    may run beside another lane's (module docstring); None: it runs alone."""

    def __init__(self, fn: Callable[[WriteContext], Any], weight: int, *, heavy: bool = False,
                 keys: Collection[str] | None = None):
        self.fn, self.weight, self.heavy = fn, max(int(weight), 1), heavy
        self.keys = None if keys is None else frozenset(keys)

    def __call__(self, ctx: WriteContext) -> Any:
        return self.fn(ctx)


@dataclass
class _Job(Generic[T]):
    fn: Callable[[WriteContext], Any]
    finish: Callable[[WriteContext, Any], T] | None
    future: Future[T]
    groupable: bool

    @property
    def weight(self) -> int:
        return self.fn.weight if isinstance(self.fn, Weighted) else 1

    @property
    def light(self) -> bool:
        heavy = isinstance(self.fn, Weighted) and self.fn.heavy
        return self.groupable and not heavy and self.weight <= LIGHT

    @property
    def keys(self) -> frozenset[str] | None:
        """The row keys it claims; None: it must run alone (no other lane's transaction open)."""
        return self.fn.keys if isinstance(self.fn, Weighted) and self.groupable else None


def _lost(exc: BaseException) -> bool:
    """Whether a transaction failed because another connection committed first: DuckDB's conflict
    on a row both wrote, or a duplicate key found at COMMIT (both lanes inserted the same new row,
    e.g. a list a workflow creates ``ON CONFLICT DO NOTHING``). Run again, it sees that commit."""
    if not isinstance(exc, duckdb.TransactionException):
        return False
    text = str(exc).lower()
    return "conflict" in text or ("failed to commit" in text and "constraint" in text)


def _keys_of(group: list[_Job[Any]]) -> frozenset[str] | None:
    keys = [j.keys for j in group]
    return None if any(k is None for k in keys) else frozenset().union(*keys)  # type: ignore[arg-type]


class _Claims:
    """What each lane's running transaction holds: its keys, or everything (``ALL``, a job that
    runs alone). A lane waits before it starts a group whose keys the other lane holds."""

    ALL: frozenset[str] = frozenset({"\x00all"})

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.main: frozenset[str] | None = None
        self.side: frozenset[str] | None = None
        #: what the main lane waits to claim (the side lane starts nothing clashing with it)
        self.wanted: frozenset[str] | None = None

    @staticmethod
    def _clash(mine: frozenset[str] | None, theirs: frozenset[str] | None) -> bool:
        if theirs is None:
            return False
        return mine is None or theirs is _Claims.ALL or not mine.isdisjoint(theirs)

    def take_main(self, keys: frozenset[str] | None) -> None:
        """Claim ``keys`` (None: everything) for the main lane, once the side lane's running group
        holds none of them. Meanwhile the side lane starts nothing that would clash (``wanted``),
        so a stream of single events cannot hold a batch or a staged part back."""
        claim = _Claims.ALL if keys is None else keys
        with self._cond:
            self.wanted = claim
            self._cond.wait_for(lambda: not self._clash(keys, self.side))
            self.main, self.wanted = claim, None

    def take_side(self, group: list[_Job[Any]]) -> tuple[list[_Job[Any]], list[_Job[Any]]]:
        """Claim, for the side lane, the jobs of ``group`` the main lane's running group does not
        hold (waiting only while the main lane runs a job alone); the others are returned to run
        in the main lane after it, so one clash never holds back the side lane's later jobs."""
        with self._cond:
            self._cond.wait_for(lambda: _Claims.ALL not in (self.main, self.wanted))
            free = [j for j in group if not self._clash(j.keys, self.main) and not self._clash(j.keys, self.wanted)]
            self.side = _keys_of(free) if free else None
            return free, [j for j in group if j not in free]

    def drop(self, lane: str) -> None:
        with self._cond:
            setattr(self, lane, None)
            self._cond.notify_all()


class Writer:
    """A thread that runs write jobs on ``store`` one transaction (group) at a time."""

    def __init__(self, store: Store, *, flush: Flush | None = None,
                 on_commit: Callable[[int, float], None] | None = None, side: Store | None = None,
                 on_end: Callable[[bool], None] | None = None, on_side: Callable[[int, int], None] | None = None):
        self.store = store
        self._jobs: queue.Queue[_Job[Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="leadscore-writer", daemon=True)
        #: the side lane: its connection, queue and thread (module docstring)
        self.side = side
        self._side_jobs: queue.Queue[_Job[Any] | None] = queue.Queue()
        self._side_thread = threading.Thread(target=self._side_loop, name="leadscore-writer-side", daemon=True)
        self._claims = _Claims()
        self._flush = flush
        self._on_commit = on_commit
        self._on_end = on_end
        #: told, for each group the side lane took, how many of its jobs it runs and how many go to
        #: the main lane because the main lane's running group holds their keys (metrics)
        self._on_side = on_side
        #: transactions the side lane committed (for tests and metrics)
        self.side_groups = 0
        self._stopped = False
        #: seconds an event of a heavy group took, a moving average (None before the first)
        self._per_event: float | None = None
        self._light_seen = float("-inf")

    def start(self) -> Writer:
        self._thread.start()
        if self.side is not None:
            self._side_thread.start()
        return self

    def submit(self, fn: Callable[[WriteContext], Any], *, finish: Callable[[WriteContext, Any], T] | None = None,
               groupable: bool = True) -> Future[T]:
        """Queue a job; its future gets the result once its transaction committed.

        ``groupable=False`` for long jobs (a whole-base rescore) that should not hold others back.
        """
        if self._stopped:
            raise RuntimeError("the writer is stopped")
        future: Future[T] = Future()
        job = _Job(fn, finish, future, groupable)
        side = self.side is not None and job.light and job.keys is not None
        (self._side_jobs if side else self._jobs).put(job)
        return future

    def slice_size(self) -> int:
        """Events a heavy group holds while light jobs wait: about ``HEAVY_SECONDS`` of work at the
        rate lately measured (``HEAVY_BUDGET`` before any); the API slices batches to it."""
        per_event = self._per_event
        if not per_event:
            return HEAVY_BUDGET
        return max(MIN_HEAVY, min(HEAVY_BUDGET, int(HEAVY_SECONDS / per_event)))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued jobs, then end the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._side_jobs.put(None)
        if self.side is not None:
            self._side_thread.join(timeout)
        self._jobs.put(None)
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        light: deque[_Job[Any]] = deque()
        heavy: deque[_Job[Any]] = deque()  # in arrival order, non-groupable jobs included
        stopping = False
        light_last = False
        while True:
            if not light and not heavy:
                if stopping:
                    return
                stopping |= self._take(self._jobs.get(), light, heavy)
            while True:  # everything that waits, sorted into the lanes
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                stopping |= self._take(job, light, heavy)
            if not light and not heavy:
                continue
            if light and (not heavy or not light_last):
                group = [light.popleft() for _ in range(min(len(light), MAX_GROUP))]
                light_last = True
            else:
                # light jobs about: a group of about HEAVY_SECONDS; else as large as the budget
                budget = self.slice_size() if time.monotonic() - self._light_seen < LIGHT_RECENT else HEAVY_BUDGET
                group = [heavy.popleft()]
                weight = group[0].weight
                while (group[0].groupable and heavy and heavy[0].groupable and len(group) < MAX_GROUP
                       and weight + heavy[0].weight <= budget):
                    weight += heavy[0].weight
                    group.append(heavy.popleft())
                light_last = False
                if group[0].groupable:
                    started = time.perf_counter()
                    self._run_main(group)
                    self._measured(time.perf_counter() - started, weight)
                    continue
            self._run_main(group)

    def _run_main(self, group: list[_Job[Any]]) -> None:
        self._claims.take_main(_keys_of(group))
        try:
            self._run(group)
        finally:
            self._claims.drop("main")

    def _side_loop(self) -> None:
        """The side lane: groups of light jobs with keys, on the side connection."""
        assert self.side is not None
        stopping = False
        while True:
            group: list[_Job[Any]] = []
            job = self._side_jobs.get()
            if job is None:
                return
            group.append(job)
            while len(group) < MAX_GROUP:
                try:
                    job = self._side_jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            group, clashing = self._claims.take_side(group)
            if self._on_side is not None:
                self._on_side(len(group), len(clashing))
            for job in clashing:  # the main lane runs it after the group holding its keys
                self._jobs.put(job)
            if not group:
                if stopping:
                    return
                continue
            try:
                if self._run(group, self.side, side=True):
                    self.side_groups += 1
            finally:
                self._claims.drop("side")
            if stopping:
                return

    def _measured(self, seconds: float, events: int) -> None:
        if events < MIN_HEAVY:  # a small group is mostly fixed costs: it would overstate an event's
            return
        per_event = seconds / events
        self._per_event = per_event if self._per_event is None else 0.7 * self._per_event + 0.3 * per_event

    def _take(self, job: _Job[Any] | None, light: deque[_Job[Any]], heavy: deque[_Job[Any]]) -> bool:
        """Put ``job`` in its lane; True for the stop sign (the queued jobs still run)."""
        if job is None:
            return True
        if job.light:
            self._light_seen = time.monotonic()
        (light if job.light else heavy).append(job)
        return False

    def _transaction(self, jobs: list[_Job[Any]], store: Store) -> list[Any]:
        """Run jobs, the deferred rescoring and the finishers in one transaction; their results."""
        ctx = WriteContext(store)
        committed = False
        try:
            with store.transaction():
                values = [j.fn(ctx) for j in jobs]
                if ctx.pending and self._flush is not None:
                    ctx.stored = self._flush(store, list(ctx.pending))
                results = [j.finish(ctx, v) if j.finish else v for j, v in zip(jobs, values, strict=True)]
                fault_point("api.before_commit")
            committed = True
            return results
        finally:
            if self._on_end is not None:
                self._on_end(committed)

    def _run(self, group: list[_Job[Any]], store: Store | None = None, *, side: bool = False) -> bool:
        """Run a group on ``store`` (the main connection by default); whether any of it committed."""
        store = store or self.store
        # a job the side lane handed over after a conflict is running already
        live = [j for j in group if j.future.running() or j.future.set_running_or_notify_cancel()]
        if not live:
            return False
        started = time.perf_counter()
        if len(live) > 1:
            try:
                results = self._transaction(live, store)
            except BaseException as exc:  # noqa: BLE001 - rerun alone below, each job gets its own outcome
                log.debug("group of %d rolled back; rerunning its jobs one by one", len(live))
                if _lost(exc):  # to the other lane's commit: rerun where it cannot happen again
                    if side:
                        self._hand_over(live)
                        return False
                    self._claims.take_main(None)
            else:
                self._committed(len(live), started)
                for j, r in zip(live, results, strict=True):
                    j.future.set_result(r)
                return True
        committed = False
        for j in live:
            started = time.perf_counter()
            conflicts = broken = 0
            while True:
                try:
                    [result] = self._transaction([j], store)
                except duckdb.Error as exc:
                    # another connection (the worker, the other lane) committed a change to a row
                    # this job wrote: a side job goes to the main lane, which reruns it alone
                    if _lost(exc) and conflicts < CONFLICT_RETRIES:
                        conflicts += 1
                        if side:
                            self._hand_over([j])
                            break
                        self._claims.take_main(None)
                        continue
                    j.future.set_exception(exc)
                except ModelRunError as exc:
                    if broken < MODEL_FAILURE_RETRIES:  # that model is now skipped: the rest is written
                        broken += 1
                        continue
                    j.future.set_exception(exc)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                    j.future.set_exception(exc)
                else:
                    self._committed(1, started)
                    j.future.set_result(result)
                    committed = True
                break
        return committed

    def _hand_over(self, jobs: list[_Job[Any]]) -> None:
        """Side-lane jobs that lost a conflict: the main lane runs them (claiming everything should
        they conflict again), never the side lane, so each ends after a bounded number of runs."""
        log.debug("%d side-lane jobs lost a conflict; handed to the main lane", len(jobs))
        for job in jobs:
            self._jobs.put(job)

    def _committed(self, jobs: int, started: float) -> None:
        if self._on_commit is not None:
            self._on_commit(jobs, time.perf_counter() - started)
