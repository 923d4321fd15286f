"""Where each contact's ``scores`` rows are, kept by the server: a real-time rescoring fetches a
contact's rows by row id instead of scanning ``scores``.

Why: ``scores`` has no index (``storage.lookup_index`` says why), so finding a contact's rows
scans its ``contact_id`` column, pruned by DuckDB's min/max per row group only as far as the
table's order allows. A whole-base rescoring writes ``scores`` in contact order, but the single
events rescored meanwhile append their rows between its parts: one stray contact in a row group
widens its min/max to the whole range, so after a scheduled rescoring with real-time traffic no
row group was pruned and every single event scanned 1M rows (25-45 ms at 1M scores, measured
on the bench store after ``bench api-large``). Here the server keeps, per model, each contact's
row id (``rowid``: DuckDB fetches a row by it directly) and reads

* the rows at the contacts' known row ids (verified: the row there must be that model's row of
  that contact, since DuckDB moves rows when a checkpoint vacuums deletes), and
* the rows appended since the map was last brought up to date (``rowid > seen``: only the row
  groups past ``seen`` are read), where a contact's new row lands after a rescoring.

A hint is never trusted: ``rows`` gives up (the caller scans, as before) unless every published
contact model's row of every contact is found, either at its verified row id or among the new
rows. A contact's ``(model, contact_id)`` row is unique among the live rows, so a verified row is
the row; a known row id whose row is gone while no new row replaced it means rows moved (a
vacuum) or were deleted: the map is dropped and read again by a thread on a cursor of its own
(``reset``), so no write pays for it; reads scan meanwhile. Rows appended inside the open
transaction have DuckDB's transaction-local row ids, which change at commit: they are read (the
view must see them) but never remembered. A contact whose ``contacts`` row the transaction
inserted has no committed rows: a model without a row of it needs no scan. A read of more known
rows than ``max_hints`` scans (one fetch by id per row costs more past it), and a key two live
rows share (seen by a catch-up) is left to the scan, which deletes both.

Each of the server's writing connections (the writer's two lanes, ``api/writer.py``) holds one
(``attach``), used by that lane's thread only (and its rebuild thread, which hands over a new
map the lane takes in at its next read); the other lane's commits show in it as new rows.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb

from leadscore.storage.lookup_index import key_filter
from leadscore.storage.store import Store

log = logging.getLogger("leadscore.engine")

#: Rows added to the map per transaction at most (~1 µs each, fetch included: ~10 ms); after a
#: whole-base rescoring the map is whole again after 1M / CATCH_UP transactions, the new rows
#: read by range meanwhile.
CATCH_UP = 10_000
#: Row ids from here on are DuckDB's transaction-local ones (rows appended in the open
#: transaction; 36,028,797,018,960,000 measured with DuckDB 2.0), renumbered at commit.
LOCAL_ROWIDS = 2**54
#: A read fetching more known rows than ``len(map) // ROWS_PER_HINT`` (at least ``MIN_HINTS``)
#: scans instead: each row by its id is one more ``UNION ALL`` branch (~0.4-0.5 ms each), the scan
#: one pass over ``contact_id`` (18-46 ms at 1M scores out of contact order); at 1M scores the two
#: cross between 48 and 96 rows (3 and 6 models, measured, NOTES "i17j"), so ~50 there, scaled
#: with the table a scan reads.
ROWS_PER_HINT = 20_000
MIN_HINTS = 16

_ATTACHED: weakref.WeakKeyDictionary[Store, ScoreRowids] = weakref.WeakKeyDictionary()


def attach(store: Store) -> ScoreRowids:
    """Keep a map for ``store`` (the server's writing connection, at start, while no thread
    executes on it: every row is read into it at once: ~1 s of CPU and ~115 MB at 1M scores);
    returns it. It rebuilds itself on a cursor of its own after a reset."""
    detach(store)
    rowids = _ATTACHED[store] = ScoreRowids(reader=store.con.cursor())
    rowids.read_all(store.con, 10 * CATCH_UP)  # by chunks: the rows fetched at once (~120 B each) never all held
    return rowids


def detach(store: Store) -> None:
    """Stop keeping a map for ``store`` (a rebuild under way is interrupted)."""
    rowids = _ATTACHED.pop(store, None)
    if rowids is not None:
        rowids.close()


def attached(store: Store) -> ScoreRowids | None:
    """The map ``store`` keeps, if any."""
    return _ATTACHED.get(store)


class ScoreRowids:
    """Model -> contact -> row id of its ``scores`` row, as a hint (see the module docstring)."""

    def __init__(self, catch_up: int = CATCH_UP, reader: duckdb.DuckDBPyConnection | None = None) -> None:
        self._at: dict[str, dict[str, int]] = {}
        #: a cursor of its own (None: a reset map catches up a chunk per read instead): after a
        #: reset the whole map is read again on it by a thread, off the writer's transactions
        self._reader = reader
        self._rebuild: threading.Thread | None = None
        self._rebuilt: ScoreRowids | None = None  #: what the thread read (None: it failed)
        #: every committed row with a row id up to here was read into the map (-1: none yet)
        self.seen = -1
        self.chunk = catch_up
        self.resets = 0  #: times the map was dropped (rows moved or deleted)
        self.found = 0  #: reads answered from the map
        self.fell_back = 0  #: reads left to the caller's scan
        #: (model, contact) keys a catch-up saw two rows of: a read of such a contact is left to the
        #: caller's scan, which sees both and deletes them by key (``StoredScores.rowids``)
        self.doubled: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        return sum(len(at) for at in self._at.values())

    def max_hints(self) -> int:
        """The most rows a read fetches by id: past it a scan costs less (``ROWS_PER_HINT``)."""
        return max(MIN_HINTS, len(self) // ROWS_PER_HINT)

    def reset(self) -> None:
        """Drop the map (rows moved or were deleted); with a reader, read it again on a thread:
        until that is done every read is left to the caller's scan, as before the map."""
        self._at = {}
        self.doubled = set()
        self.seen = -1
        self.resets += 1
        if self._reader is not None and self._rebuild is None:
            self._rebuilt = None
            # not a daemon: one stopped by the interpreter's exit inside DuckDB aborts the process
            # ("FATAL: exception not rethrown", seen); exit waits for it (~1-3 s at 1M scores)
            self._rebuild = threading.Thread(target=self._read_again, args=(self._reader,),
                                             name="leadscore-score-rowids", daemon=False)
            self._rebuild.start()

    def _read_again(self, reader: duckdb.DuckDBPyConnection) -> None:
        """The rebuild thread: the committed rows up to the last one when it starts, a chunk at a
        time (as ``catch_up`` reads them in the writer's transactions: rows committed later come
        after its ``seen`` and are read by range, and any hint is verified, so the map it makes
        is as safe as one kept up to date)."""
        try:
            fresh = ScoreRowids(self.chunk)
            # a chunk per statement: converting the rows to Python holds the GIL, which the
            # writer's threads need (1M rows at once held it up to ~100 ms; in chunks of 10,000 it
            # took less time and a 1 ms sleep's p99 lateness was 7-11 ms, measured, NOTES "i17j")
            if fresh.read_all(reader, self.chunk, until=lambda: self._reader is None):
                self._rebuilt = fresh
        except Exception:  # noqa: BLE001 - interrupted at shutdown, or the store closed: catch up by chunks
            if self._reader is None:  # closed: the server stops
                return
            log.warning("the scores row-id map could not be read again; it catches up by chunks", exc_info=True)

    def read_all(self, con: duckdb.DuckDBPyConnection, chunk: int,
                 until: Callable[[], bool] = lambda: False) -> bool:
        """Catch up by ``chunk`` rows a statement to the last committed row when it begins; False
        when ``until()`` stopped it first."""
        [(top,)] = con.execute("SELECT coalesce(max(rowid), -1) FROM scores WHERE rowid < $local",
                               {"local": LOCAL_ROWIDS}).fetchall()
        while not until():
            before = self.seen
            self.catch_up(con, rows=chunk)
            if self.seen == before or self.seen >= top:
                return True
        return False

    def rebuilding(self) -> bool:
        """A rebuild is under way (reads go to the scan); a finished one is taken in here."""
        thread = self._rebuild
        if thread is None:
            return False
        if thread.is_alive():
            return True
        self._rebuild, fresh = None, self._rebuilt
        self._rebuilt = None
        if fresh is not None:
            self._at, self.seen, self.doubled = fresh._at, fresh.seen, fresh.doubled
        return False

    def wait(self, timeout: float | None = None) -> None:
        """Until a rebuild under way is done (tests; ``close``)."""
        thread = self._rebuild
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Stop a rebuild under way and close the reader."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        if self._rebuild is not None and self._rebuild.is_alive():
            reader.interrupt()
            self.wait(10)
        reader.close()

    def catch_up(self, con: duckdb.DuckDBPyConnection, rows: int | None = None) -> None:
        """Read up to ``rows`` (default ``chunk``) committed rows past ``seen`` into the map, by
        row id range (DuckDB reads only the row groups past ``seen``)."""
        limit = self.chunk if rows is None else rows
        bottom, top = con.execute("SELECT min(rowid), max(rowid) FROM scores WHERE rowid > $s AND rowid < $local",
                                  {"s": self.seen, "local": LOCAL_ROWIDS}).fetchone() or (None, None)
        if top is None:
            return
        # never past a row that exists (rows committed later come after it); row ids have holes
        # where deleted rows were, so start from the first row past `seen`
        hi = min(int(top), int(bottom) - 1 + limit)
        found = con.execute("SELECT rowid, model, contact_id FROM scores WHERE rowid > $s AND rowid <= $hi",
                            {"s": self.seen, "hi": hi}).fetchall()
        at: dict[str, int] = {}
        name = None
        for rowid, model, contact in found:  # every row id > seen: committed, not transaction-local
            if model != name:
                name, at = model, self._at.setdefault(model, {})
            if at.get(contact, -1) > self.seen:  # a key twice in one fetch: two live rows
                self.doubled.add((model, contact))
            at[contact] = rowid
        self.seen = hi

    def learn(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Remember these (model, contact, row id) of rows up to ``seen`` (where a scan found
        them; rows past it are read by range anyway, and learnt by ``catch_up``, which takes a key
        it already holds past ``seen`` for a second row of it; nothing while a rebuild is under
        way: it replaces the map)."""
        if self._rebuild is not None:
            return
        for model, contact, rowid in rows:
            if rowid <= self.seen:
                self._at.setdefault(model, {})[contact] = rowid

    def rows(self, con: duckdb.DuckDBPyConnection, ids: Sequence[str], models: Iterable[str],
             columns: str) -> list[tuple[Any, ...]] | None:
        """Every ``scores`` row of these contacts as ``rowid, contact_id, model, <columns>``, or
        None when the map cannot vouch that these are all of them (the caller scans)."""
        if self.rebuilding():
            self.fell_back += 1
            return None
        self.catch_up(con)
        hinted = {(m, c): r for m, at in self._at.items() for c in ids if (r := at.get(c)) is not None}
        if len(hinted) > self.max_hints() or any(key in self.doubled for key in hinted):
            # the caller's scan sees both rows and deletes them by key, but only for the models that
            # run now: a held model's twin stays marked until a run of that model replaces it
            wanted = set(models)
            self.doubled.difference_update(key for key in hinted if key[0] in wanted)
            self.fell_back += 1
            return None
        where, params = key_filter("contact_id", ids)
        names = [f"h{i}" for i in range(len(hinted))]
        params |= {"seen": self.seen} | dict(zip(names, hinted.values(), strict=True))
        sql = f"SELECT rowid, contact_id, model, {columns} FROM scores WHERE rowid > $seen AND {where}"
        # a row by its id: DuckDB reads the one row group holding it (0.6 ms at 1M scores); one
        # statement per id, as an IN list of several ids is not pruned (measured 3.8 ms for two)
        sql += "".join(f" UNION ALL SELECT rowid, contact_id, model, {columns} FROM scores WHERE rowid = ${n}"
                       for n in names)
        wanted = set(ids)
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        for row in {int(r[0]): r for r in con.execute(sql, params).fetchall()}.values():  # a row read twice counts once
            rowid, key = int(row[0]), (row[2], row[1])
            if hinted.get(key) != rowid and not (rowid > self.seen and row[1] in wanted):
                continue  # another row now sits where a hint pointed: not one of these contacts' rows
            if key in found:  # two live rows of one model and contact: the caller's scan sees both
                log.warning("scores holds two rows of model %s for contact %s", *key)
                self.fell_back += 1
                return None
            found[key] = row
        if any(key not in found for key in hinted):
            # a known row is gone and no new row replaced it: rows moved (a vacuum) or were deleted
            self.reset()
            self.fell_back += 1
            return None
        missing = {c for m in models for c in ids if (m, c) not in found}
        if missing and not missing <= _created(con, sorted(missing)):
            self.fell_back += 1  # not in the map (a contact or model it never saw): the caller scans
            return None
        self.learn((m, c, int(row[0])) for (m, c), row in found.items())
        self.found += 1
        return list(found.values())


def _created(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` whose ``contacts`` row this transaction inserted (a transaction-local row
    id; nothing deletes contacts, ``storage.lookup_index``): every ``scores`` row such a contact has
    was written in this transaction, so it is among the rows past ``seen`` a read takes; a model
    without one has not scored it yet, no scan needed."""
    where, params = key_filter("contact_id", ids)
    return {c for (c,) in con.execute(f"SELECT contact_id FROM contacts WHERE rowid >= $local AND {where}",
                                      params | {"local": LOCAL_ROWIDS}).fetchall()}
