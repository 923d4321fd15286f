"""The events' scoring columns in memory, grouped by contact: a batch's rows without reading the table.

Why: a batch of events rescoring 500 random contacts reads their events from ``events``, which is
stored in time order, so each contact's ~20 rows sit in as many row groups. Even by the server's
lookup index (``storage.lookup_index``) that copy cost ~235 ms of a 620 ms, 500-event
transaction at 1M contacts / 20M events (CPU, in process, load ~3), the largest part of a batch.
The server keeps instead, in its own memory, the columns the published models read from
``events`` (``type``, ``occurred_at`` and the ``where:`` columns) ordered by contact, with where
each contact's rows start: a contact's rows are one slice, and 500 contacts' rows are gathered in
a few milliseconds (``copy_into``) into the temporary table the real-time sql path reads, so the
compiled query and everything after it are unchanged.

What it holds, always exactly ``events`` as each of the writer's two lanes (``api/writer.py``: the
main connection and the side lane's cursor, one thread each) sees it in its open transaction:

* **base**: every row at the server's start (``build``), its text columns dictionary-encoded,
  grouped by contact (``_ids`` sorted, ``_starts`` / ``_counts`` per contact): at 1M contacts /
  20M events with the bench model's 4 columns, ~410 MB, built in ~13 s (measured, docs/api.md);
* **tail**: rows the server committed since, as ``events`` returned them from the insert
  (``INSERT ... RETURNING``: the values as stored, casts included), merged into the base once
  it holds ``MERGE_AT`` rows, on a thread of its own (7.4 s of CPU for 1M rows into 20M), the
  old base and tail answering until the merged base is swapped in;
* **pending**, per thread: rows written by that thread's open transaction: visible to its own
  reads (a batch rescores its contacts with its new events) and to no other thread's, added to the
  tail as the next *commit* when it commits and dropped when it rolls back (``Store.on_finish``),
  so a group the writer rolls back and reruns job by job is never counted twice.

The tail keeps each commit's number and where its rows end, so a transaction sees what its
snapshot shows: a batch's transaction begun before the side lane committed a single event does
not see that event (DuckDB does not show it either), while the side lane's next transaction does.
Which commits a transaction's snapshot shows is read off the table's row count in it, the first
time it uses this copy (``usable``, ``_resolved``): that count is the rows of every commit up to
the snapshot's plus its own pending rows, and since every commit followed here holds rows, at
most one commit matches. (A commit of the other lane may be in DuckDB and not yet here, between
its COMMIT and its callbacks: the use waits for it a moment, else reads the table this once.)

The server is the only process writing the store while it runs (DuckDB allows one), and every event
it writes goes through ``api.writes.write_events`` on one of the writer's two lanes, which reports
them here (``appended``). Nothing in the server deletes or updates events. As a guard against any
other writer, every use compares the table's row count (in the transaction) with what this copy
says the transaction sees; a count no commit explains drops the copy for good (``broken``) and the
real-time path reads the table again, as before. A transaction begun before a merge swapped in
commits its snapshot does not show reads the table for the rest of it.
A model published later that reads a column not held here takes the table path too (``covers``);
so does a column of a type outside ``HELD_TYPES``, whose round trip through Arrow is not known to
be exact. Rows reach the query through a temporary table whose columns are cast to the stored types,
so the compiled query reads the same types and values it reads from ``events``.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.storage import contact_groups as groups
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import Store

log = logging.getLogger("leadscore.storage")

#: Column types held in memory: their values go through Arrow and back unchanged.
HELD_TYPES = re.compile(r"^(VARCHAR|BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                        r"FLOAT|DOUBLE|DATE|TIMESTAMP|TIMESTAMP WITH TIME ZONE|DECIMAL\(\d+,\d+\))$")
#: Committed rows kept apart from the base up to this many; then merged into it (a few seconds at 20M).
MERGE_AT = 1_000_000
#: Contact ids are held sorted at a fixed width (numpy bytes): one id of 10 kB would make 1M ids
#: take 10 GB. A store (or a tail) holding a longer id is not kept; the table is read instead.
MAX_ID_BYTES = 128
#: Rows read from the table per Arrow batch while building.
READ_BATCH = 1 << 20
#: The relation name ``copy_into`` registers while it fills a temporary table.
_GATHERED = "_ls_gathered_events"


class _Lane:
    """One writing thread's open transaction as this copy follows it: the rows it inserted (its own
    reads see them, no other thread's do) and, once a use of the copy fixed it, ``snap``: the last
    commit its snapshot shows (``EventsByContact._resolved``)."""

    __slots__ = ("pending", "rows", "snap", "hooked")

    def __init__(self) -> None:
        self.pending: list[pa.Table] = []
        self.rows = 0
        self.snap: int | None = None
        self.hooked = False  #: told to the store's ``on_finish``


class EventsByContact:
    """``events``' columns ``columns`` (besides ``contact_id``) in memory, by contact (module docstring)."""

    def __init__(self, columns: Sequence[str], types: dict[str, str]) -> None:
        self.columns = tuple(columns)
        self.types = {c: types[c] for c in ("contact_id", *self.columns)}
        self.broken = False
        self._ids = np.array([], dtype="S1")  # contact ids (UTF-8), sorted
        self._starts = np.array([], dtype=np.int64)
        self._counts = np.array([], dtype=np.int64)
        self._base: pa.Table | None = None
        self._base_rows = 0
        self._base_seq = 0  #: the last commit the base holds
        self._tail: list[pa.Table] = []
        self._tail_at: dict[str, list[int]] = {}  # contact id -> row numbers in the tail
        self._tail_rows = 0
        #: per commit in the tail, in commit order: its number, and the tail's rows up to and with it
        #: (arrays: with one event per commit, 1M commits take 16 MB)
        self._end_seq, self._end_rows = array("q"), array("q")
        self._seq = 0  #: commits with rows followed so far (each one's rows numbered by it in the tail)
        self._lanes: dict[int, _Lane] = {}  #: thread id -> its open transaction
        #: guards everything above between the writer's two lanes; notified when a lane ends
        self._lock = threading.Condition(threading.RLock())
        #: a merge of the tail under way: its thread, its result, the tail rows and last commit it covers, when
        self._merging: tuple[threading.Thread, dict[str, Any], int, int, float] | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, store: Store, columns: Iterable[str]) -> EventsByContact | None:
        """Every row of ``events`` (the columns wanted that the table has, plus ``type`` and
        ``occurred_at``), grouped by contact; None when a column has a type not held or a contact
        id holds a NUL character (the sorted ids would not tell it apart)."""
        started = time.perf_counter()
        types = store.column_types("events")
        wanted = [c for c in types if c in {"type", "occurred_at", *columns} and c != "contact_id"]
        if not all(HELD_TYPES.match(types[c].upper()) for c in wanted):
            log.info("events by contact not kept: a column of a type it does not hold (%s)",
                     {c: types[c] for c in wanted})
            return None
        con = store.con
        if con.execute("SELECT count(*) FROM events WHERE contains(contact_id, chr(0)) "
                       "OR strlen(contact_id) > $w", {"w": MAX_ID_BYTES}).fetchall() != [(0,)]:
            log.info("events by contact not kept: a contact id with a NUL character or longer than %d bytes",
                     MAX_ID_BYTES)
            return None
        memory = cls(wanted, types)
        select = ", ".join(quoted(c) for c in ("contact_id", *wanted))
        reader = con.sql(f"SELECT {select} FROM events").to_arrow_reader(READ_BATCH)
        batches = [pa.record_batch([groups.encoded(b.column(i)) for i in range(b.num_columns)], names=b.schema.names)
                   for b in reader]
        table = pa.Table.from_batches(batches, schema=batches[0].schema if batches else None) if batches else None
        if table is None:
            table = con.sql(f"SELECT {select} FROM events LIMIT 0").to_arrow_table()
            table = pa.table([groups.encoded(table.column(i)) for i in range(table.num_columns)],
                             names=table.column_names)
        memory._regroup(table)
        log.info("events by contact: %d rows of %d contacts, %.0f MB, built in %.1f s", memory._base_rows,
                 len(memory._ids), memory.nbytes / 1e6, time.perf_counter() - started)
        return memory

    def _regroup(self, table: pa.Table) -> None:
        """Make ``table`` (``contact_id`` first, any order) the base, grouped by contact."""
        self._ids, self._starts, self._counts, self._base = groups.grouped(table)
        self._base_rows = table.num_rows

    @property
    def rows_held(self) -> int:
        """Rows this thread's transaction would see: every commit followed, and its own pending rows."""
        lane = self._lanes.get(threading.get_ident())
        return self._base_rows + self._tail_rows + (lane.rows if lane is not None else 0)

    @property
    def nbytes(self) -> int:
        held = self._ids.nbytes + self._starts.nbytes + self._counts.nbytes
        return held + (self._base.nbytes if self._base is not None else 0) + sum(t.nbytes for t in self._tail)

    # ------------------------------------------------------------------ writes

    def _lane(self, store: Store) -> _Lane:
        """This thread's open transaction on ``store`` (held until it ends; outside a transaction
        it ends at once, as its rows are committed already)."""
        me = threading.get_ident()
        lane = self._lanes.get(me)
        if lane is None:
            lane = self._lanes[me] = _Lane()
        if not lane.hooked:
            lane.hooked = True
            store.on_finish(self._finished)
        return lane

    def appended(self, store: Store, rows: pa.Table) -> None:
        """Rows this thread's open transaction inserted into ``events`` (``contact_id`` and
        ``columns``, as the insert returned them): pending, seen by this transaction only, until it
        ends (``Store.on_finish``)."""
        if self.broken or rows.num_rows == 0:
            return
        with self._lock:
            me = threading.get_ident()
            lane = self._lanes.get(me) or self._lanes.setdefault(me, _Lane())
            lane.pending.append(rows.select(["contact_id", *self.columns]))
            lane.rows += rows.num_rows
            self._lane(store)  # outside a transaction: committed, into the tail at once

    def _finished(self, committed: bool) -> None:
        """This thread's transaction ended: its rows are the next commit in the tail, or gone."""
        with self._lock:
            lane = self._lanes.pop(threading.get_ident(), None)
            try:
                if lane is None or not committed or self.broken or not lane.rows:
                    return
                self._seq += 1
                for rows in lane.pending:
                    self._add_tail(rows)
                self._end_seq.append(self._seq)
                self._end_rows.append(self._tail_rows)
                self._take_merged()
                if self._tail_rows >= MERGE_AT and self._merging is None:
                    self._merge_tail(background=True)
            except Exception as exc:  # noqa: BLE001 - the transaction committed: this copy no longer follows it
                self._drop(f"following a commit failed ({exc!r})")
            finally:
                self._lock.notify_all()  # a lane waiting for this commit to be followed (``usable``)

    def _add_tail(self, rows: pa.Table) -> None:
        first = self._tail_rows
        for i, contact in enumerate(rows.column(0).to_pylist()):
            self._tail_at.setdefault(contact, []).append(first + i)
        self._tail.append(rows)
        self._tail_rows += rows.num_rows
        if len(self._tail) > 64:
            self._tail = [pa.concat_tables(self._tail).combine_chunks()]

    def _merge_tail(self, *, background: bool = False) -> None:
        """Fold the tail into the base: at 20M rows and a 1M-row tail, 7.4 s of CPU (measured), so
        the server does it on a thread of its own (``background``) while this copy keeps answering
        from the old base and tail; a lane swaps the result in at its next use or commit
        (``_take_merged``), rows committed meanwhile staying in the tail."""
        assert self._base is not None
        if not self._tail:
            return
        if any("\x00" in contact or len(contact.encode()) > MAX_ID_BYTES for contact in self._tail_at):
            self._drop(f"a contact id with a NUL character or longer than {MAX_ID_BYTES} bytes")
            return
        ids, counts, base, tail = self._ids, self._counts, self._base, pa.concat_tables(self._tail)
        started = time.perf_counter()
        if not background:
            self._swap(groups.merged(ids, counts, base, tail), tail.num_rows, self._seq, started)
            return
        done: dict[str, Any] = {}

        def merge() -> None:
            try:
                done["grouped"] = groups.merged(ids, counts, base, tail)
            except BaseException as exc:  # noqa: BLE001 - handed to the writer, which drops the copy
                done["error"] = exc

        thread = threading.Thread(target=merge, name="leadscore-events-merge", daemon=True)
        thread.start()  # first: a thread that could not start must not be waited for
        self._merging = (thread, done, tail.num_rows, self._seq, started)

    def _take_merged(self, wait: float | None = 0.0) -> None:
        """Swap in a finished background merge (``wait``: how long to wait for it; None = until done)."""
        if self._merging is None:
            return
        thread, done, upto, upto_seq, started = self._merging
        thread.join(wait)
        if thread.is_alive():
            return
        with self._lock:
            if self._merging is None or self._merging[0] is not thread:
                return
            self._merging = None
            if "error" in done:
                self._drop(f"merging its tail failed ({done['error']!r})")
            elif not self.broken:
                self._swap(done["grouped"], upto, upto_seq, started)

    def _swap(self, grouped: tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table], upto: int, upto_seq: int,
              started: float) -> None:
        """The merged base in place of the old one and the tail's first ``upto`` rows (commits up to
        ``upto_seq``). A transaction whose snapshot is older than that reads the table (``usable``)."""
        with self._lock:
            rest = pa.concat_tables(self._tail).slice(upto) if self._tail_rows > upto else None
            kept = bisect.bisect_right(self._end_seq, upto_seq)
            seqs, ends = self._end_seq[kept:], array("q", (end - upto for end in self._end_rows[kept:]))
            self._ids, self._starts, self._counts, self._base = grouped
            self._base_rows += upto
            self._base_seq = upto_seq
            self._tail, self._tail_at, self._tail_rows = [], {}, 0
            self._end_seq, self._end_rows = seqs, ends
            if rest is not None:
                self._add_tail(rest)
        log.info("events by contact: tail merged, %d rows, %.1f s", self._base_rows, time.perf_counter() - started)

    # ------------------------------------------------------------------ which rows a transaction sees

    def _visible(self, snap: int) -> int:
        """Committed rows a snapshot showing commits up to ``snap`` (not older than the base) holds."""
        at = bisect.bisect_right(self._end_seq, snap)
        return self._base_rows + (self._end_rows[at - 1] if at else 0)

    def _resolved(self, committed: int) -> int | None:
        """The commit a snapshot holding ``committed`` rows of ``events`` shows last, if one does.

        Why this is exact: the writer's two lanes are the only writers of ``events``, each with at
        most one transaction open. Commits a lane's snapshot may or may not show are those the
        *other* lane made since this lane's transaction began, in that lane's order; earlier ones
        it shows all. Every commit followed here holds rows, so the visible counts grow with each
        one, and at most one matches the table's count."""
        if committed == self._base_rows:
            return self._base_seq
        tail = committed - self._base_rows
        at = bisect.bisect_left(self._end_rows, tail)
        return self._end_seq[at] if at < len(self._end_rows) and self._end_rows[at] == tail else None

    def usable(self, store: Store) -> bool:
        """Whether this copy holds exactly the rows of ``events`` this thread's transaction on
        ``store`` sees (their count: every commit up to its snapshot's, and its own pending rows).
        A count no commit explains means a writer it was not told of: it is dropped for good and
        the table read instead. A snapshot older than the base (merged since it began), or another
        lane's commit not yet followed after a wait, answers False for this use only."""
        for _ in range(5):
            if self.broken:
                return False
            [(count,)] = store.con.execute("SELECT count(*) FROM events").fetchall()
            with self._lock:
                if self.broken:
                    return False
                lane = self._lane(store) if store.in_transaction else None
                committed = int(count) - (lane.rows if lane is not None else 0)
                if lane is not None and lane.snap is not None:
                    if lane.snap < self._base_seq:
                        return False  # merged past its snapshot: the table, for this transaction
                    if self._visible(lane.snap) == committed:
                        return True
                elif committed < self._base_rows:
                    return False  # a snapshot older than the base (merged since it began): the table
                else:
                    snap = self._resolved(committed)
                    if snap is not None:
                        if lane is not None:
                            lane.snap = snap
                        return True
                    me = threading.get_ident()
                    if any(other.rows for t, other in self._lanes.items() if t != me):
                        # another lane has rows pending: it may have committed them and not told
                        # this copy yet (its COMMIT returned, its callbacks not run): wait for it
                        self._lock.wait(0.2)
                        continue
                self._drop(f"the table holds {count} rows, the copy {self.rows_held} (a writer it was not told of)")
                return False
        return False  # another lane's commit not followed yet: the table, this once

    def _drop(self, why: str) -> None:
        log.warning("events by contact dropped: %s; real-time rescoring reads the table from now on", why)
        with self._lock:
            self.broken = True
            self._base, self._tail, self._tail_at = None, [], {}
            self._end_seq, self._end_rows = array("q"), array("q")
            for lane in self._lanes.values():
                lane.pending, lane.rows = [], 0

    # ------------------------------------------------------------------ reads

    def rows(self, ids: Sequence[str]) -> pa.Table:
        """``contact_id`` and ``columns`` of every held row of these contacts this thread's
        transaction sees (``usable`` fixed its snapshot; else every commit), plain Arrow columns."""
        wanted = list(dict.fromkeys(ids))
        with self._lock:  # what this transaction sees, taken at once; gathered outside the lock
            assert self._base is not None
            lane = self._lanes.get(threading.get_ident())
            shown = self._tail_rows
            if lane is not None and lane.snap is not None:
                shown = self._visible(max(lane.snap, self._base_seq)) - self._base_rows
            base = (self._ids, self._starts, self._counts, self._base)
            tail = list(self._tail)
            positions = [p for i in wanted for p in self._tail_at.get(i, ()) if p < shown]
            pending = list(lane.pending) if lane is not None else []
        parts = [groups.from_base(*base, wanted, self.columns)]
        if positions:
            parts.append(pa.concat_tables(tail).take(pa.array(positions, pa.int64())))
        for rows in pending:
            parts.append(rows.filter(pc.is_in(rows.column(0), pa.array(wanted, pa.string()))))
        schema = parts[0].schema
        return pa.concat_tables([p if p.schema == schema else p.cast(schema) for p in parts])

    def copy_into(self, store: Store, name: str, ids: Sequence[str], columns: Sequence[str]) -> bool:
        """Create the temporary table ``name`` with ``columns`` of these contacts' events, typed as
        stored; False (nothing created) when this copy cannot answer (``covers``, ``usable``)."""
        con = store.con
        try:
            self._take_merged()
            if not self.covers(columns) or not self.usable(store):
                return False
            rows = self.rows(ids)
        except duckdb.Error:
            raise  # the transaction's own failure (a conflict, an abort): the writer reruns it
        except Exception as exc:  # noqa: BLE001 - the table answers instead
            self._drop(f"reading it failed ({exc!r})")
            return False
        select = ", ".join(f"CAST({quoted(c)} AS {self.types.get(c, 'VARCHAR')}) AS {quoted(c)}" for c in columns)
        con.register(_GATHERED, rows)
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT {select} FROM {_GATHERED}")
        finally:
            con.unregister(_GATHERED)
        return True

    def covers(self, columns: Iterable[str]) -> bool:
        """Whether every one of ``columns`` (besides ``contact_id``) is held."""
        return not self.broken and set(columns) - {"contact_id"} <= set(self.columns)

