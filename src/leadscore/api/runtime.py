"""Everything a running server holds: the store, its single writer, readers, scheduler and worker.

One process owns the workspace's DuckDB file (DuckDB allows one writing process). Inside it:

* the **writer** thread owns the store's main connection and runs every write (``api/writer.py``);
* each request thread reads through a **cursor** of its own (a DuckDB connection must not be used
  by two threads), created on first use and kept for the thread's life;
* the **scheduler** thread rescores the whole base every ``server.rescore_every_minutes`` (decay
  and inactivity move scores without events): the query runs on a cursor of its own and its
  results go through the writer in short parts (``scoring.score_all_staged``), so real-time
  writes never wait for the whole run; it also flushes API keys' last-use;
* the **lookup indexes** (``storage.lookup_index``) on ``events`` and ``contacts`` by ``contact_id``,
  created at start when missing (imports drop them), so rescoring a contact looks up its own rows;
* the **events by contact** (``storage.events_by_contact``, ``server.events_in_memory``): the event
  columns the published models read, in memory and grouped by contact, built at start before the
  writer runs, so a batch's contacts' events are gathered without reading the table;
* the **leads list's rows** (``storage.lead_rows_later``): the writer's rescoring marks its contacts
  and a thread of its own has their rows rewritten in bulk by the writer once it is free of
  marking writes or ``server.list_refresh_seconds`` after the oldest mark (the marks left by a
  crash are refreshed at start, before the writer runs);
* the workflows **worker** (when this build has ``leadscore.workflows``) delivers queued actions
  on a cursor of its own.

``stop()`` ends them in the reverse order and closes the store; SIGTERM/SIGINT reach it through
uvicorn's shutdown and the app's lifespan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any, TypeVar

from leadscore.api.keys import ApiKey, find_key, hash_key, touch_keys
from leadscore.api.metrics import Metrics
from leadscore.api.stored_keys import StoredKeys
from leadscore.api.writer import WriteContext, Writer
from leadscore.engine import score_rowids
from leadscore.engine.realtime import events_read
from leadscore.engine.stored_scores import StoredScores
from leadscore.errors import LeadscoreError
from leadscore.scoring import Quarantine, ScoreRuns, score_all, score_all_staged, score_companies, score_contacts
from leadscore.storage import lead_rows_later
from leadscore.storage.events_by_contact import EventsByContact
from leadscore.storage.lookup_index import ensure_lookup_indexes
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.workflows.outbox import undelivered_count
from leadscore.workflows.worker import Worker
from leadscore.workspace import Workspace

T = TypeVar("T")
log = logging.getLogger("leadscore.api")


class ServerStopping(LeadscoreError):
    """A whole-base rescoring cut short because the server is stopping (what it wrote stays)."""

#: how long a key lookup is trusted; keys change only through this process (it holds the store)
KEY_CACHE_SECONDS = 5.0
KEY_TOUCH_SECONDS = 60.0
#: how often the leads list's marks are looked at (``lead_rows_later.Marks.due``)
LIST_POLL_SECONDS = 0.05


class ApiRuntime:
    def __init__(self, ws: Workspace, *, worker: bool = True, scheduler: bool = True,
                 store: Store | None = None):
        self.ws = ws
        self.settings = ws.settings.server
        self.metrics = Metrics()
        self._want_worker = worker
        self._want_scheduler = scheduler
        self._given_store = store
        self.store: Store | None = None
        self.writer: Writer | None = None
        self._local = threading.local()
        self._cursors: list[Store] = []
        self._cursors_lock = threading.Lock()
        self._factory: Store | None = None
        self._keys: dict[str, tuple[ApiKey | None, float]] = {}
        self._last_used: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.event_columns: dict[str, str] = {}
        self.contact_columns: dict[str, str] = {}
        self.company_columns: dict[str, str] = {}
        self.last_scheduled: datetime | None = None
        #: models whose query failed: the real-time path skips them for a while (leadscore.scoring)
        self.quarantine = Quarantine()
        # in-memory hashes of stored event ids (duplicate check) and contact ids (no index)
        self.stored_ids = StoredKeys("events", "event_id")
        self.known_contacts = StoredKeys("contacts", "contact_id")
        #: seconds the lookup indexes took to build at start (0 when they were there)
        self.index_seconds = 0.0
        #: seconds the events' copy by contact took to build at start (storage.events_by_contact)
        self.memory_seconds = 0.0
        #: cursors of the staged whole-base runs under way (interrupted when the server stops)
        self._staging: set[Store] = set()
        #: contacts whose leads-list rows wait for a refresh (None: written in the write's transaction)
        self.list_marks: lead_rows_later.Marks | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> ApiRuntime:
        self.store = self._given_store or self.ws.open_store()
        self.event_columns = self.store.column_types("events")
        self.contact_columns = self.store.column_types("contacts")
        self.company_columns = self.store.column_types("companies")
        self.store.keep_catalog()  # versions and (fixed, as above) column types between transactions
        for keys in (self.stored_ids, self.known_contacts):  # now, not on the first request
            keys.warm(self.store)
        self.index_seconds = ensure_lookup_indexes(self.store)
        if self.index_seconds > 1:
            log.info("built the lookup indexes by contact in %.1f s (an import had dropped them)", self.index_seconds)
        score_rowids.attach(self.store)  # a contact's scores rows fetched by row id, not by a scan
        if self.settings.events_in_memory:  # before the writer starts: nothing writes while it is built
            started = time.perf_counter()
            try:
                self.store.events_memory = EventsByContact.build(self.store, events_read(self.store))
            except Exception:  # noqa: BLE001 - e.g. more than 2 GiB of one text column: read the table
                log.warning("events by contact not kept: building it failed; real-time rescoring reads "
                            "the table", exc_info=True)
                self.store.events_memory = None
            self.memory_seconds = time.perf_counter() - started
        if self.settings.list_refresh_seconds > 0:
            self.list_marks = lead_rows_later.Marks(self.settings.list_refresh_seconds)
        try:
            with self.store.transaction():  # rows a crash left to refresh, before anything reads or writes
                lead_rows_later.refresh(self.store.con)
        except Exception:  # noqa: BLE001 - the list is a view of the scores: never why a server cannot start
            log.warning("the leads list's rows a crash left were not refreshed at start; the writer "
                        "tries again", exc_info=True)
            if self.list_marks is not None:
                self.list_marks.first = self.list_marks.last = time.monotonic()
        # Cursors are made from a connection no thread executes on: the writer's is always busy.
        self._factory = self.store.cursor()
        worker = Worker(self.store.cursor(), self.ws) if self._want_worker else None
        # the side lane (api/writer.py): light event writes commit beside a running batch
        side = self.store.cursor()
        side.events_memory = self.store.events_memory  # it follows both lanes' transactions
        # and a scores row-id map of its own (engine/score_rowids.py: one thread per map; a hint
        # verified on every read, so each lane's map follows the other's commits as new rows)
        score_rowids.attach(side)
        self._cursors.append(side)
        self.writer = Writer(self.store, flush=self._rescore, on_commit=self.metrics.on_commit, side=side,
                             on_end=self._settle_keys, on_side=self.metrics.on_side).start()
        self.metrics.watch_outbox(lambda: undelivered_count(self.reader()))
        if self._want_scheduler:
            self._spawn("leadscore-scheduler", self._schedule)
        if self.list_marks is not None:
            self._spawn("leadscore-list-rows", self._refresh_list_rows)
        if worker is not None:
            self._cursors.append(worker.store)
            self._spawn("leadscore-worker", lambda: worker.run(self._stop))
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cursors_lock:
            for reader in self._staging:  # a whole-base query under way: the run ends, nothing half-written
                reader.con.interrupt()
        for t in self._threads:
            t.join(timeout=30)
        if self.writer is not None:
            if self._last_used:
                self._flush_key_use()
            if self.list_marks is not None and self.list_marks.first is not None:
                try:  # what waits is written now, not at the next start
                    self.refresh_list_rows().result(timeout=30)
                except Exception:  # noqa: BLE001 - the marks stay; the next start refreshes them
                    log.warning("could not refresh the leads list's rows at shutdown", exc_info=True)
            self.writer.stop()
        with self._cursors_lock:
            for cursor in [*self._cursors, *([self._factory] if self._factory else [])]:
                score_rowids.detach(cursor)  # the side lane's map
                try:
                    cursor.close()
                except Exception:  # noqa: BLE001 - closing at shutdown; nothing to do about it
                    pass
            self._cursors.clear()
            self._factory = None
        if self.store is not None:
            score_rowids.detach(self.store)
        if self.store is not None and self._given_store is None:
            self.store.close()
        elif self.store is not None:
            self.store.keep_catalog(False)
        self.store = None

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except Exception:  # noqa: BLE001 - logged; the server keeps serving
                log.exception("%s stopped on an error", name)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ reads and writes

    def reader(self) -> Store:
        """This thread's own cursor on the store."""
        cursor: Store | None = getattr(self._local, "cursor", None)
        if cursor is None:
            assert self._factory is not None, "the server is not started"
            with self._cursors_lock:
                cursor = self._factory.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    def write(self, fn: Callable[[WriteContext], Any], *, finish: Callable[[WriteContext, Any], T] | None = None,
              groupable: bool = True) -> Future[T]:
        """Hand a job to the single writer (see ``api/writer.py``)."""
        assert self.writer is not None, "the server is not started"
        return self.writer.submit(fn, finish=finish, groupable=groupable)

    def _settle_keys(self, committed: bool) -> None:
        """A writer lane's transaction ended: its inserted keys are stored, or gone."""
        self.stored_ids.settle(committed)
        self.known_contacts.settle(committed)

    def _rescore(self, store: Store, contact_ids: list[str]) -> StoredScores | None:
        """The writer's end-of-group rescoring of every contact its jobs changed; their rows as
        they now stand when the rescoring kept them (a few contacts), for the responses."""
        started = time.perf_counter()
        if self.list_marks is None:
            runs = self.rescore_contacts(store, contact_ids)
        else:
            with lead_rows_later.deferring(self.list_marks):  # the list's rows: marked, written later
                runs = self.rescore_contacts(store, contact_ids)
        self.metrics.rescore.labels("realtime").observe(time.perf_counter() - started)
        return runs.stored

    def refresh_list_rows(self) -> Future[int]:
        """Have the writer rewrite the marked contacts' leads-list rows, in a transaction of its own
        (``lead_rows_later``); its future gives how many contacts."""
        marks = self.list_marks
        assert marks is not None, "the list's rows are written in the write's transaction"
        return self.write(lambda ctx: marks.refresh(ctx.store), groupable=False)

    def _refresh_list_rows(self) -> None:
        """Refresh the marks when due (``Marks.due``), one refresh at a time."""
        assert self.list_marks is not None
        while not self._stop.wait(LIST_POLL_SECONDS):
            if self.list_marks.due():
                try:
                    self.refresh_list_rows().result()
                except Exception:  # noqa: BLE001 - the marks stay and are tried again
                    if self._stop.is_set():
                        return
                    log.exception("refreshing the leads list's rows failed; trying again")
                    self._stop.wait(1.0)

    def rescore_contacts(self, store: Store, contact_ids: list[str], *, as_of: datetime | None = None,
                         models: list[str] | None = None) -> ScoreRuns:
        """Rescore some contacts inside the writer's open transaction (``leadscore.scoring``).

        A model whose query fails is put in quarantine and the error raised: the writer reruns
        the transaction, which then skips that model, so one broken model never blocks writes.
        """
        runs = score_contacts(store, contact_ids, as_of=as_of or utcnow(), models=models,
                              quarantine=self.quarantine)
        self._count_failures(runs)
        return runs

    def rescore_companies(self, store: Store, company_ids: list[str], *, as_of: datetime | None = None) -> ScoreRuns:
        """Rescore some companies with every account model inside the writer's transaction (a
        company's properties changed, or a contact left it), like ``rescore_contacts``."""
        runs = score_companies(store, company_ids, as_of=as_of or utcnow(), quarantine=self.quarantine)
        self._count_failures(runs)
        return runs

    def rescore_all(self, store: Store, *, as_of: datetime | None = None,
                    models: list[str] | None = None) -> ScoreRuns:
        """Rescore everyone inside a writer job (a publish: the new version and its scores commit
        together); a failing model is reported, the others score."""
        runs = score_all(store, as_of=as_of or utcnow(), models=models, quarantine=self.quarantine)
        self._count_failures(runs)
        return runs

    def _count_failures(self, runs: ScoreRuns) -> None:
        for failure in runs.failures:
            self.metrics.model_failures.labels(failure.model).inc()

    # ------------------------------------------------------------------ keys

    def authenticate(self, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > now:
            key = cached[0]
        else:
            key = find_key(self.reader(), secret)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (key, now + KEY_CACHE_SECONDS)
        if key is not None:
            self._last_used[key.key_id] = utcnow()
        return key

    def forget_keys(self) -> None:
        """Drop cached lookups (after a key is created or revoked through the API)."""
        self._keys.clear()

    def _flush_key_use(self) -> None:
        used, self._last_used = self._last_used, {}
        try:
            self.write(lambda ctx: touch_keys(ctx.store, used)).result(timeout=30)
        except Exception:  # noqa: BLE001 - last-use times are informative; never fail for them
            log.warning("could not record API keys' last use", exc_info=True)

    # ------------------------------------------------------------------ the schedule

    def _schedule(self) -> None:
        """Rescore everyone at start (scores went stale while no server ran, and the staged run
        stores them in contact order for the real-time path), then every ``every`` seconds."""
        every = self.settings.rescore_every_minutes * 60
        next_rescore = time.monotonic() if every else None
        next_touch = time.monotonic() + KEY_TOUCH_SECONDS
        while not self._stop.wait(1.0):
            now = time.monotonic()
            if now >= next_touch:
                next_touch = now + KEY_TOUCH_SECONDS
                if self._last_used:
                    self._flush_key_use()
            if next_rescore is not None and now >= next_rescore:
                next_rescore = now + every
                try:
                    self.rescore_everyone()
                except Exception:  # noqa: BLE001 - a bad run is logged; the next one is still due
                    if self._stop.is_set():
                        return  # cut short by the server stopping: what it wrote stays
                    log.exception("scheduled rescoring failed; next try in %.0f s", every)

    def rescore_everyone(self) -> list[Any]:
        """One scheduled run: every contact, every published model, staged off the writer."""
        started = time.perf_counter()
        runs = self.rescore_staged()
        self.metrics.rescore.labels("scheduled").observe(time.perf_counter() - started)
        self.last_scheduled = utcnow()
        return runs

    def rescore_staged(self, *, as_of: datetime | None = None, models: list[str] | None = None) -> ScoreRuns:
        """Rescore everyone without holding writes back (``scoring.score_all_staged``): the query
        runs on a cursor of this thread's own, its results go through the writer in short parts.
        Blocks the calling thread (the scheduler's, or a worker thread of a request) until done."""
        with self._cursors_lock:
            if self._factory is None or self._stop.is_set():
                raise ServerStopping("the server is stopping")
            reader = self._factory.cursor()
            self._staging.add(reader)
        try:
            runs = score_all_staged(reader, self._write_call, as_of=as_of, models=models,
                                    quarantine=self.quarantine)
        finally:
            with self._cursors_lock:
                self._staging.discard(reader)
            reader.close()
        self._count_failures(runs)
        return runs

    def _write_call(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` as a writer job of its own, waited for (a staged run's parts)."""
        if self._stop.is_set():
            raise ServerStopping("the server is stopping; the rescoring ends here (the parts written stay)")
        return self.write(lambda ctx: fn(ctx.store), groupable=False).result()
