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
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import duckdb

from leadscore.engine.run import ModelRunError
from leadscore.faults import fault_point
from leadscore.storage.store import Store

T = TypeVar("T")
log = logging.getLogger("leadscore.api")

#: Jobs run in one transaction at most; bounds the latency one commit adds to a waiting request.
MAX_GROUP = 64
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

    def rescore_later(self, contact_ids: Iterable[str]) -> None:
        """Rescore these contacts at the end of the group, before commit (once for all jobs)."""
        self.pending.update(dict.fromkeys(contact_ids))


#: rescore the contacts a group changed (runs inside the group's transaction)
Flush = Callable[[Store, list[str]], None]


@dataclass
class _Job(Generic[T]):
    fn: Callable[[WriteContext], Any]
    finish: Callable[[WriteContext, Any], T] | None
    future: Future[T]
    groupable: bool


class Writer:
    """A thread that runs write jobs on ``store`` one transaction (group) at a time."""

    def __init__(self, store: Store, *, flush: Flush | None = None,
                 on_commit: Callable[[int, float], None] | None = None):
        self.store = store
        self._jobs: queue.Queue[_Job[Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="leadscore-writer", daemon=True)
        self._flush = flush
        self._on_commit = on_commit
        self._stopped = False

    def start(self) -> Writer:
        self._thread.start()
        return self

    def submit(self, fn: Callable[[WriteContext], Any], *, finish: Callable[[WriteContext, Any], T] | None = None,
               groupable: bool = True) -> Future[T]:
        """Queue a job; its future gets the result once its transaction committed.

        ``groupable=False`` for long jobs (a whole-base rescore) that should not hold others back.
        """
        if self._stopped:
            raise RuntimeError("the writer is stopped")
        future: Future[T] = Future()
        self._jobs.put(_Job(fn, finish, future, groupable))
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued jobs, then end the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._jobs.put(None)
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        carried: list[_Job[Any] | None] = []  # a job taken while grouping that must run on its own
        while True:
            job = carried.pop() if carried else self._jobs.get()
            if job is None:
                return
            group = [job]
            while job.groupable and len(group) < MAX_GROUP:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or not nxt.groupable:
                    carried.append(nxt)
                    break
                group.append(nxt)
            self._run(group)

    def _transaction(self, jobs: list[_Job[Any]]) -> list[Any]:
        """Run jobs, the deferred rescoring and the finishers in one transaction; their results."""
        ctx = WriteContext(self.store)
        with self.store.transaction():
            values = [j.fn(ctx) for j in jobs]
            if ctx.pending and self._flush is not None:
                self._flush(self.store, list(ctx.pending))
            results = [j.finish(ctx, v) if j.finish else v for j, v in zip(jobs, values, strict=True)]
            fault_point("api.before_commit")
            return results

    def _run(self, group: list[_Job[Any]]) -> None:
        live = [j for j in group if j.future.set_running_or_notify_cancel()]
        if not live:
            return
        started = time.perf_counter()
        if len(live) > 1:
            try:
                results = self._transaction(live)
            except BaseException:  # noqa: BLE001 - rerun alone below, each job gets its own outcome
                log.debug("group of %d rolled back; rerunning its jobs one by one", len(live))
            else:
                self._committed(len(live), started)
                for j, r in zip(live, results, strict=True):
                    j.future.set_result(r)
                return
        for j in live:
            started = time.perf_counter()
            conflicts = broken = 0
            while True:
                try:
                    [result] = self._transaction([j])
                except duckdb.TransactionException as exc:
                    # another connection (the worker) committed a change to a row this job wrote
                    if "conflict" in str(exc).lower() and conflicts < CONFLICT_RETRIES:
                        conflicts += 1
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
                break

    def _committed(self, jobs: int, started: float) -> None:
        if self._on_commit is not None:
            self._on_commit(jobs, time.perf_counter() - started)
