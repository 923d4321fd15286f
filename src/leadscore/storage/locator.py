"""Where a contact's rows are: row ids by contact, kept in memory by the process that owns the store.

Why: the real-time path reads one contact's events out of tens of millions. ``events`` has no
index on ``contact_id``: an ART index maintained by bulk inserts doubles the CPU of importing
events that arrive in time order (measured: 5M events, 4.5 s of CPU without, 12 s with), and the
min/max zone maps only skip row groups in a table stored in contact order, which neither imports
nor the API give (and they compare only the first 8 bytes of a string). Without either, finding a
contact's events scans the column: ~0.3 s at 20M events.

What makes a map of row ids safe here: events and contacts are never deleted (nothing in leadscore
deletes them), an UPDATE leaves a row where it is, and a committed row keeps its row id. So a
process that holds the store (the server: DuckDB lets one process write) reads ``key, rowid`` once,
keeps them sorted in memory, and fetches a contact's rows by row id, which DuckDB prunes to the row
groups holding them. Exactness does not rest on the map being current:

* rows with ``rowid < covered`` are all in the map; rows from ``covered`` on (committed since the
  map last caught up, and the caller's own uncommitted rows, which DuckDB numbers from 2^55) are
  found by scanning that tail, which DuckDB also prunes by row id;
* every fetch filters on the key itself, so a wrong entry could only cost time, never bring another
  contact's row;
* a table that holds fewer rows than the map covers (something deleted rows) is read again.

Memory: the sorted distinct keys as Python strings and 4 bytes per row (8 past 2^32 rows): about
140 MB for 1M contacts / 20M events. Reading them costs a few seconds at 20M (the server does it
at start); rows added later are caught up in small steps, and the whole map is read again in a
background thread once the steps hold ``rebuild_at`` rows.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leadscore.storage.store import Store

log = logging.getLogger("leadscore.storage")

#: Keys bound one by one (``IN ($k0, $k1)``) up to this many: DuckDB pushes those into the scan.
BOUND_KEYS = 32


@dataclass
class _Base:
    """Sorted distinct keys, and for key i its row ids ``rows[offsets[i]:offsets[i + 1]]``."""

    keys: list[str] = field(default_factory=list)
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    covered: int = 0  #: every row with a smaller row id is here

    def find(self, key: str) -> np.ndarray | None:
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            return self.rows[int(self.offsets[i]):int(self.offsets[i + 1])]
        return None


@dataclass(frozen=True)
class Located:
    """Where some keys' rows are: row ids below ``covered``, and the tail from ``covered`` on."""

    rowids: list[int]
    covered: int


def key_filter(column: str, keys: Sequence[str], prefix: str = "k") -> tuple[str, dict[str, Any]]:
    """``column IN (...)`` over ``keys`` as named parameters (one by one when few: pushed into the scan)."""
    if len(keys) <= BOUND_KEYS:
        names = [f"{prefix}{i}" for i in range(len(keys))]
        return (f"{column} IN ({', '.join('$' + n for n in names)})",
                dict(zip(names, keys, strict=True)))
    return f"{column} IN (SELECT UNNEST(${prefix}s))", {f"{prefix}s": list(keys)}


class RowLocator:
    """Row ids of ``table`` by ``column`` for the process that owns the store (module docstring).

    Used by one writing thread; ``load`` first (``loaded`` is False until then, and ``select``
    then scans). Thread-safe against its own background rebuild.
    """

    def __init__(self, table: str, column: str, *, catch_up_at: int = 50_000, rebuild_at: int = 2_000_000):
        self.table, self.column = table, column
        self.catch_up_at, self.rebuild_at = catch_up_at, rebuild_at
        self._base = _Base()
        self._delta: dict[str, list[int]] = {}
        self._delta_rows = 0
        self._covered = 0
        self._factory: Store | None = None
        self._reader: Store | None = None
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        self.loads = 0  #: how many times the whole map was read (tests and logs)

    @property
    def loaded(self) -> bool:
        return self._reader is not None

    @property
    def covered(self) -> int:
        return self._covered

    def load(self, store: Store) -> RowLocator:
        """Read the committed rows' keys and row ids through cursors of ``store`` (kept for later)."""
        self._factory = store.cursor()
        self._reader = self._factory.cursor()
        base = _read_base(self._reader, self.table, self.column)
        with self._lock:
            self._base, self._delta, self._delta_rows, self._covered = base, {}, 0, base.covered
        self.loads += 1
        return self

    def close(self) -> None:
        thread = self._rebuilding
        if thread is not None:
            thread.join(60)
        for cursor in (self._reader, self._factory):
            if cursor is not None:
                cursor.close()
        self._reader = self._factory = None

    # ------------------------------------------------------------------ lookups

    def locate(self, store: Store, keys: Sequence[str]) -> Located:
        """Where the rows of ``keys`` are, as ``store`` (the caller's connection) sees the table."""
        self._keep_up(store)
        with self._lock:
            base, delta, covered = self._base, self._delta, self._covered
            found: list[int] = []
            for key in dict.fromkeys(keys):
                rows = base.find(key)
                if rows is not None:
                    found.extend(rows.tolist())
                more = delta.get(key)
                if more:
                    found.extend(more)
        found.sort()
        return Located(found, covered)

    def select(self, store: Store, keys: Sequence[str], columns: str = "*") -> tuple[str, dict[str, Any]]:
        """SQL (and its parameters) reading the rows of ``keys`` in ``table``: by row id when loaded,
        else by scanning the key column."""
        where, params = key_filter(self.column, keys)
        if not self.loaded:
            return f"SELECT {columns} FROM {self.table} WHERE {where}", params
        at = self.locate(store, keys)
        params.update(rowids=at.rowids, covered=at.covered)
        return (f"SELECT {columns} FROM {self.table} WHERE rowid IN (SELECT UNNEST($rowids::BIGINT[])) AND {where} "
                f"UNION ALL SELECT {columns} FROM {self.table} WHERE rowid >= $covered AND {where}", params)

    def count_located(self, store: Store, keys: Sequence[str]) -> int:
        """How many rows the map holds for ``keys`` (the tail not included): a cost estimate."""
        if not self.loaded:
            return 0
        return len(self.locate(store, keys).rowids)

    # ------------------------------------------------------------------ keeping up

    def _keep_up(self, store: Store) -> None:
        """Catch up with committed rows once the tail is long; read everything again if rows vanished."""
        if self._reader is None:
            return
        row = store.con.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        rows = int(row[0]) if row else 0
        mapped = self._base.rows.size + self._delta_rows
        if rows < mapped:  # rows vanished: their ids may have moved
            log.warning("%s holds %d rows, fewer than the %d whose ids were read: reading them again",
                        self.table, rows, mapped)
            self.load_again()
        elif rows - mapped >= self.catch_up_at:
            self.catch_up()

    def catch_up(self) -> None:
        """Add the committed rows from ``covered`` on to the map (read through the locator's own cursor)."""
        reader = self._reader
        if reader is None:
            return
        con = reader.con
        con.execute("BEGIN TRANSACTION")
        try:
            total = int(con.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])  # type: ignore[index]
            new = con.execute(f"SELECT {self.column}, rowid FROM {self.table} WHERE rowid >= $covered",
                              {"covered": self._covered}).fetchall()
        finally:
            con.execute("COMMIT")
        if total < self._base.rows.size + self._delta_rows + len(new):  # rows vanished: ids may have moved
            log.warning("%s holds %d rows, fewer than the %d whose ids were read: reading them again",
                        self.table, total, self._base.rows.size + self._delta_rows + len(new))
            self.load_again()
            return
        with self._lock:
            for key, rowid in new:
                self._delta.setdefault(key, []).append(int(rowid))
            self._delta_rows += len(new)
            if new:
                self._covered = max(self._covered, max(int(r) for _, r in new) + 1)
            rebuild = self._delta_rows >= self.rebuild_at and self._rebuilding is None
        if rebuild:
            self._rebuilding = threading.Thread(target=self._rebuild, name=f"leadscore-locator-{self.table}",
                                                daemon=True)
            self._rebuilding.start()

    def load_again(self) -> None:
        assert self._reader is not None
        base = _read_base(self._reader, self.table, self.column)
        with self._lock:
            self._base, self._delta, self._delta_rows, self._covered = base, {}, 0, base.covered
        self.loads += 1

    def _rebuild(self) -> None:
        """Read the whole map again off the writing thread, then swap it in (keeping newer steps)."""
        try:
            assert self._factory is not None
            cursor = self._factory.cursor()
            try:
                base = _read_base(cursor, self.table, self.column)
            finally:
                cursor.close()
            with self._lock:
                delta: dict[str, list[int]] = {}
                for key, rows in self._delta.items():
                    newer = [r for r in rows if r >= base.covered]
                    if newer:
                        delta[key] = newer
                self._base, self._delta = base, delta
                self._delta_rows = sum(len(v) for v in delta.values())
                self._covered = max(self._covered, base.covered)
            self.loads += 1
        except Exception:  # noqa: BLE001 - the map keeps working from its steps; logged
            log.exception("reading the row ids of %s again failed", self.table)
        finally:
            self._rebuilding = None


def _read_base(reader: Store, table: str, column: str) -> _Base:
    """Every committed row's key and row id, grouped by key, keys sorted (one statement: one snapshot)."""
    arrow = reader.con.sql(
        f"SELECT {column} AS k, list(rowid ORDER BY rowid) AS r FROM {table} GROUP BY {column} ORDER BY {column}"
    ).to_arrow_table()
    keys: list[str] = arrow.column("k").to_pylist()  # type: ignore[union-attr]
    lists = arrow.column("r").combine_chunks()  # type: ignore[union-attr]
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    rows = np.asarray(lists.values)
    rows = rows.astype(np.uint32) if rows.size and int(rows.max()) < 2**32 else rows.astype(np.int64)
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):  # DuckDB orders as Python does; make sure
        order = sorted(range(len(keys)), key=keys.__getitem__)
        keys = [keys[i] for i in order]
        pieces = [rows[offsets[i]:offsets[i + 1]] for i in order]
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64)
        rows = np.concatenate(pieces) if pieces else rows[:0]
    covered = int(rows.max()) + 1 if rows.size else 0
    return _Base(keys, offsets, rows, covered)
