"""Which keys are already stored, answered from memory: event ids for the API's duplicate check,
contact ids for "does this contact exist?".

Why: ``events`` has no index on ``event_id`` (an index costs bulk imports more than it saves, see
storage/schema.py), so ``WHERE event_id IN (...)`` scans the column. That is cheap when new ids
fall outside every row group's min/max (sequential ids), but with random ids such as Segment's
UUID ``messageId`` it reads every id: ~53 ms per request at 2M events on the development machine,
more than the whole real-time budget. Here the 64-bit ``hash(event_id)`` of every stored event is
kept sorted in memory (8 bytes per event: 16 MB at 2M, 160 MB at 20M); an id whose hash is absent
is certainly new, and only the rare ids whose hash is present (a real repeat, or a collision) are
looked up in SQL. The answer is therefore exact. Contacts lost their primary key in migration 5
(see storage/migrations_bulk.py), so the same structure answers for contact ids (~2 ms saved per
event request at 100k contacts).

The server is the only writer while it runs (DuckDB allows one process), and its events all go
through :func:`api.writes.write_events` (contacts through ``ensure_contacts`` and
``upsert_contact``), which report what they inserted. As a guard against any
other writer, the table's row count is compared with what this index expects on every call and
the hashes are reloaded when the table holds rows it never heard of.

Two writing threads (the writer's lanes, ``api/writer.py``) each see the table as of their own
transaction's snapshot: the other's uncommitted rows are invisible, and so are rows it committed
after the snapshot. So inserted rows count as *pending* for the thread that inserted them until
it says how its transaction ended (``settle``: committed rows join the expected count, rolled-back
ones are dropped), and a count is only suspicious when it is *higher* than the committed rows plus
every lane's pending ones (the other lane's COMMIT shows its rows a moment before it settles
them). Hashes are never removed: a hash of a rolled-back or deleted row is a false positive,
which the SQL lookup answers exactly. (Before, any difference reloaded the
hashes, which with two lanes would mean a reload of 20M hashes at nearly every call.)
"""

from __future__ import annotations

import threading

import numpy as np

from leadscore.storage.lookup_index import key_filter
from leadscore.storage.store import Store

#: Recently inserted hashes are kept in a set and merged into the sorted array past this size.
MERGE_AT = 100_000


class StoredKeys:
    """Exact "is this key stored?" for batches of keys of ``table.column``, with one SQL lookup
    only on a hash hit."""

    def __init__(self, table: str, column: str) -> None:
        self.table, self.column = table, column
        self._sorted: np.ndarray | None = None
        self._recent: set[int] = set()
        self._rows = -1  #: rows known committed (-1: not loaded yet)
        self._pending: dict[int, int] = {}  #: thread id -> rows it inserted, not yet settled
        self._lock = threading.Lock()
        self.reloads = 0  # how many times the hashes were read from the table (for tests, metrics)

    def stored(self, store: Store, ids: list[str]) -> tuple[set[str], dict[str, int]]:
        """The keys among ``ids`` that the table holds, and every key's hash (for :meth:`added`)."""
        if not ids:
            return set(), {}
        # one round trip for the ids' hashes and the table's row count (the guard), outside the lock:
        # a batch's 1,000 ids held it ~10% of the main lane's time, and the side lane's single
        # events waited on it (py-spy, demo mixed load). Only this thread changes its own pending
        # count, and the committed count only grows meanwhile, so the guard reads the same.
        rows = store.con.execute(
            f"SELECT x, hash(x), (SELECT count(*) FROM {self.table}) "
            "FROM unnest(?::VARCHAR[]) t(x)", [ids]).fetchall()
        found = {str(x): int(h) for x, h, _ in rows}
        with self._lock:
            self._sync(store, int(rows[0][2]))
            assert self._sorted is not None
            maybe = [i for i in dict.fromkeys(ids) if self._has(found[i])]
            size = self._rows
        if not maybe:
            return set(), found
        return _in_table(store, self.table, self.column, maybe, size), found

    def warm(self, store: Store) -> None:
        """Read the stored hashes now (the server does at start, before taking requests)."""
        with self._lock:
            self._sync(store)

    def added(self, hashes: list[int]) -> None:
        """The caller inserted rows with these key hashes (in its open transaction)."""
        with self._lock:
            if self._sorted is None:
                return
            self._recent.update(hashes)
            me = threading.get_ident()
            self._pending[me] = self._pending.get(me, 0) + len(hashes)
            if len(self._recent) >= MERGE_AT:
                merged = np.concatenate([self._sorted, np.fromiter(self._recent, np.uint64)])
                self._sorted = np.sort(merged)
                self._recent.clear()

    def settle(self, committed: bool) -> None:
        """This thread's transaction ended: its inserted rows are committed (counted) or gone."""
        with self._lock:
            rows = self._pending.pop(threading.get_ident(), 0)
            if committed and self._sorted is not None:
                self._rows += rows

    def _has(self, h: int) -> bool:
        if h in self._recent:
            return True
        assert self._sorted is not None
        at = int(np.searchsorted(self._sorted, np.uint64(h)))
        return at < self._sorted.size and int(self._sorted[at]) == h

    def _sync(self, store: Store, rows: int | None = None) -> None:
        """Read the hashes unless every row this thread's snapshot shows is accounted for (rows
        inserted behind this index's back make it read them again: ~0.13 s at 2M)."""
        if rows is None:
            row = store.con.execute(f"SELECT count(*) FROM {self.table}").fetchone()
            rows = int(row[0]) if row else 0
        own = self._pending.get(threading.get_ident(), 0)
        # Rows of the other lane count too: its COMMIT is done a moment before it settles them,
        # and a snapshot taken in between shows them (a reload then cost seconds at 20M events).
        # Its uncommitted rows might hide a foreign insert of as many rows for that moment; the
        # next call sees it. Their hashes are known already (``added``), so lookups stay exact.
        if self._sorted is not None and rows <= self._rows + sum(self._pending.values()):
            return
        column = store.con.execute(
            f"SELECT hash({self.column}) AS h FROM {self.table}").fetchnumpy()["h"]
        self._sorted = np.sort(np.asarray(column, dtype=np.uint64))
        # kept: the other lane's uncommitted hashes, which this snapshot cannot show
        self._rows = rows - own
        self.reloads += 1


def hashes(store: Store, ids: list[str]) -> dict[str, int]:
    """DuckDB's ``hash()`` of each id, the function the stored hashes are read with (it is not
    reproducible outside DuckDB; MD5 would be, but reading it for 2M ids takes 0.9 s, not 0.13 s)."""
    rows = store.con.execute("SELECT x, hash(x) FROM unnest(?::VARCHAR[]) t(x)", [ids]).fetchall()
    return {str(x): int(h) for x, h in rows}


def stored_among(store: Store, known: StoredKeys | None, table: str, column: str,
                 ids: list[str]) -> tuple[set[str], dict[str, int]]:
    """The ``ids`` that ``table.column`` holds, from ``known`` when the caller has one (with the
    ids' hashes, for :meth:`StoredKeys.added`), else from the table (and no hashes)."""
    if known is not None:
        return known.stored(store, ids)
    return (_in_table(store, table, column, list(dict.fromkeys(ids))) if ids else set()), {}


def _in_table(store: Store, table: str, column: str, ids: list[str], rows: int | None = None) -> set[str]:
    """The ``ids`` the table holds: looked up by key, or, with the table's ``rows`` and ids that are
    a large part of them, by one scan joined with the ids (``lookup_index.key_filter``: 1,000 of the
    demo's 20k contacts cost 33 ms of CPU by key, 2.2 scanned)."""
    where, params = key_filter(column, ids, prefix="st", rows=rows)
    found = store.con.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {where}", params).fetchall()
    return {str(r[0]) for r in found}
