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

What it holds, always exactly ``events`` as the writing connection sees it:

* **base**: every row at the server's start (``build``), its text columns dictionary-encoded,
  grouped by contact (``_ids`` sorted, ``_starts`` / ``_counts`` per contact): at 1M contacts /
  20M events with the bench model's 4 columns, ~410 MB, built in ~13 s (measured, docs/api.md);
* **tail**: rows the server committed since, as ``events`` returned them from the insert
  (``INSERT ... RETURNING``: the values as stored, casts included), merged into the base once
  it holds ``MERGE_AT`` rows, on a thread of its own (7.4 s of CPU for 1M rows into 20M), the
  old base and tail answering until the merged base is swapped in;
* **pending**: rows written by the open transaction: visible to its own reads (a batch rescores
  its contacts with its new events), added to the tail when it commits and dropped when it rolls
  back (``Store.on_finish``), so a group the writer rolls back and reruns job by job is never
  counted twice.

The server is the only process writing the store while it runs (DuckDB allows one), and every event
it writes goes through ``api.writes.write_events``, which reports them here (``appended``).
Nothing in the server deletes or updates events. As a guard against any other writer, every use
compares the table's row count (in the transaction) with what this copy holds; on a difference the
copy is dropped for good (``broken``) and the real-time path reads the table again, as before.
A model published later that reads a column not held here takes the table path too (``covers``);
so does a column of a type outside ``HELD_TYPES``, whose round trip through Arrow is not known to
be exact. Rows reach the query through a temporary table whose columns are cast to the stored types,
so the compiled query reads the same types and values it reads from ``events``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.storage.history import quoted
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


def _encoded(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.dictionary_encode(column) if pa.types.is_string(column.type) else column


def _plain(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column.dictionary_decode() if isinstance(column, pa.DictionaryArray) else (
        pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type) else column)


def _grouped(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    """``table`` (``contact_id`` first, any order) grouped by contact: the sorted ids (UTF-8), where
    each one's rows start and how many there are, and the other columns in that order."""
    table = table.unify_dictionaries()
    contact = table.column(0).combine_chunks() if table.num_rows else pa.array([], pa.string())
    if not isinstance(contact, pa.DictionaryArray):
        contact = pc.dictionary_encode(contact)
    names = np.array([s.encode() for s in contact.dictionary.to_pylist()], dtype=object)
    order_of_names = np.argsort(names.astype("S") if len(names) else np.array([], dtype="S1"), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order_of_names] = np.arange(len(names))
    labels = rank[contact.indices.to_numpy(zero_copy_only=False)] if len(contact) else np.array([], np.int64)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=len(names)).astype(np.int64)
    ids = names[order_of_names].astype("S") if len(names) else np.array([], dtype="S1")
    rest = table.drop_columns([table.column_names[0]])
    rest = rest.take(pa.array(order)).combine_chunks() if rest.num_rows else rest
    return ids, np.cumsum(counts) - counts, counts, rest


def _unified(base: pa.Table, tail: pa.Table) -> pa.Table:
    """``base`` and ``tail`` as one table (their dictionaries differ; values are cast alike)."""
    columns = []
    for i, field in enumerate(base.schema):
        part = tail.column(i)
        if part.type != field.type:
            plain = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            part = _encoded(pc.cast(_plain(part), plain))
        columns.append(pa.chunked_array([*base.column(i).chunks, *part.chunks]))
    return pa.table(columns, names=base.column_names)


def _merged(ids: np.ndarray, counts: np.ndarray, base: pa.Table, tail: pa.Table
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    """A base (its sorted ids and counts) and a tail (``contact_id`` first) grouped as one."""
    names = pa.array([s.decode() for s in ids.tolist()], pa.string())
    labels = np.repeat(np.arange(len(ids), dtype=np.int32), counts)
    contact = pa.DictionaryArray.from_arrays(pa.array(labels, pa.int32()), names)
    whole = pa.Table.from_arrays([contact, *base.columns], names=tail.column_names)
    return _grouped(_unified(whole, tail))


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
        self._tail: list[pa.Table] = []
        self._tail_at: dict[str, list[int]] = {}  # contact id -> row numbers in the tail
        self._tail_rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        #: a merge of the tail under way: its thread, its result, the tail rows it covers, when it began
        self._merging: tuple[threading.Thread, dict[str, Any], int, float] | None = None

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
        batches = [pa.record_batch([_encoded(b.column(i)) for i in range(b.num_columns)], names=b.schema.names)
                   for b in reader]
        table = pa.Table.from_batches(batches, schema=batches[0].schema if batches else None) if batches else None
        if table is None:
            table = con.sql(f"SELECT {select} FROM events LIMIT 0").to_arrow_table()
            table = pa.table([_encoded(table.column(i)) for i in range(table.num_columns)], names=table.column_names)
        memory._regroup(table)
        log.info("events by contact: %d rows of %d contacts, %.0f MB, built in %.1f s", memory._base_rows,
                 len(memory._ids), memory.nbytes / 1e6, time.perf_counter() - started)
        return memory

    def _regroup(self, table: pa.Table) -> None:
        """Make ``table`` (``contact_id`` first, any order) the base, grouped by contact."""
        self._ids, self._starts, self._counts, self._base = _grouped(table)
        self._base_rows = table.num_rows

    @property
    def rows_held(self) -> int:
        return self._base_rows + self._tail_rows + self._pending_rows

    @property
    def nbytes(self) -> int:
        held = self._ids.nbytes + self._starts.nbytes + self._counts.nbytes
        return held + (self._base.nbytes if self._base is not None else 0) + sum(t.nbytes for t in self._tail)

    # ------------------------------------------------------------------ writes

    def appended(self, store: Store, rows: pa.Table) -> None:
        """Rows the open transaction inserted into ``events`` (``contact_id`` and ``columns``, as
        the insert returned them): held as pending until it ends."""
        if self.broken or rows.num_rows == 0:
            return
        first = not self._pending
        self._pending.append(rows.select(["contact_id", *self.columns]))
        self._pending_rows += rows.num_rows
        if first:  # outside a transaction (autocommit) the rows are committed already: tail at once
            store.on_finish(self._finished)

    def _finished(self, committed: bool) -> None:
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not committed or self.broken:
            return
        try:
            for rows in pending:
                self._add_tail(rows)
            self._take_merged()
            if self._tail_rows >= MERGE_AT and self._merging is None:
                self._merge_tail(background=True)
        except Exception as exc:  # noqa: BLE001 - the transaction committed: this copy no longer follows it
            self._drop(f"following a commit failed ({exc!r})")

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
        from the old base and tail; the writer swaps the result in at its next use
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
            self._swap(_merged(ids, counts, base, tail), tail.num_rows, started)
            return
        done: dict[str, Any] = {}

        def merge() -> None:
            try:
                done["grouped"] = _merged(ids, counts, base, tail)
            except BaseException as exc:  # noqa: BLE001 - handed to the writer, which drops the copy
                done["error"] = exc

        thread = threading.Thread(target=merge, name="leadscore-events-merge", daemon=True)
        thread.start()  # first: a thread that could not start must not be waited for
        self._merging = (thread, done, tail.num_rows, started)

    def _take_merged(self, wait: float | None = 0.0) -> None:
        """Swap in a finished background merge (``wait``: how long to wait for it; None = until done)."""
        if self._merging is None:
            return
        thread, done, upto, started = self._merging
        thread.join(wait)
        if thread.is_alive():
            return
        self._merging = None
        if "error" in done:
            self._drop(f"merging its tail failed ({done['error']!r})")
        elif not self.broken:
            self._swap(done["grouped"], upto, started)

    def _swap(self, grouped: tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table], upto: int, started: float) -> None:
        """The merged base in place of the old one and the tail's first ``upto`` rows."""
        rest = pa.concat_tables(self._tail).slice(upto) if self._tail_rows > upto else None
        self._ids, self._starts, self._counts, self._base = grouped
        self._base_rows += upto
        self._tail, self._tail_at, self._tail_rows = [], {}, 0
        if rest is not None:
            self._add_tail(rest)
        log.info("events by contact: tail merged, %d rows, %.1f s", self._base_rows, time.perf_counter() - started)

    # ------------------------------------------------------------------ reads

    def covers(self, columns: Iterable[str]) -> bool:
        """Whether every one of ``columns`` (besides ``contact_id``) is held."""
        return not self.broken and set(columns) - {"contact_id"} <= set(self.columns)

    def usable(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether this copy still holds exactly the table's rows (their count, in the open
        transaction); if not it is dropped for good and the table is read instead."""
        if self.broken:
            return False
        [(count,)] = con.execute("SELECT count(*) FROM events").fetchall()
        if int(count) == self.rows_held:
            return True
        self._drop(f"the table holds {count} rows, the copy {self.rows_held} (a writer it was not told of)")
        return False

    def _drop(self, why: str) -> None:
        log.warning("events by contact dropped: %s; real-time rescoring reads the table from now on", why)
        self.broken = True
        self._base, self._tail, self._pending, self._tail_at = None, [], [], {}

    def rows(self, ids: Sequence[str]) -> pa.Table:
        """``contact_id`` and ``columns`` of every held row of these contacts (plain Arrow columns)."""
        assert self._base is not None
        wanted = list(dict.fromkeys(ids))
        parts = [self._from_base(wanted)]
        if self._tail:
            positions = [p for i in wanted for p in self._tail_at.get(i, ())]
            if positions:
                parts.append(pa.concat_tables(self._tail).take(pa.array(positions, pa.int64())))
        for rows in self._pending:
            parts.append(rows.filter(pc.is_in(rows.column(0), pa.array(wanted, pa.string()))))
        schema = parts[0].schema
        return pa.concat_tables([p if p.schema == schema else p.cast(schema) for p in parts])

    def _from_base(self, ids: list[str]) -> pa.Table:
        """The base's rows of these contacts: each contact's rows are one slice."""
        assert self._base is not None
        width = self._ids.dtype.itemsize
        fits = [i for i in ids if len(i.encode()) <= width and "\x00" not in i] if len(self._ids) else []
        names: list[str] = []
        take = np.array([], dtype=np.int64)
        counts = np.array([], dtype=np.int64)
        if fits:
            keys = np.array([i.encode() for i in fits], dtype=self._ids.dtype)
            at = np.minimum(np.searchsorted(self._ids, keys), len(self._ids) - 1)
            hit = self._ids[at] == keys
            counts = self._counts[at[hit]]
            names = [i for i, h in zip(fits, hit, strict=True) if h]
            starts = self._starts[at[hit]]
            if counts.sum():
                take = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, counts, strict=True)])
        contact = pa.array(np.repeat(np.array(names, dtype=object), counts) if names else [], pa.string())
        gathered = self._base.take(pa.array(take, pa.int64()))
        return pa.table([contact, *(_plain(c) for c in gathered.columns)], names=["contact_id", *self.columns])

    def copy_into(self, con: duckdb.DuckDBPyConnection, name: str, ids: Sequence[str], columns: Sequence[str]) -> bool:
        """Create the temporary table ``name`` with ``columns`` of these contacts' events, typed as
        stored; False (nothing created) when this copy cannot answer (``covers``, ``usable``)."""
        try:
            self._take_merged()
            if not self.covers(columns) or not self.usable(con):
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
