"""A few contacts' stored scores, read once per real-time transaction and kept current by its runs.

Why: ``scores`` has no index (``storage.lookup_index`` says why), so finding a contact's rows
scans the table's ``contact_id`` column, pruned only as far as the table's order allows: 15–20 ms
at 1M scores on this machine. The real-time path used to pay that once per model (the previous
rows, to diff and replace them) and once more to read the new scores back for the response. Now
``scoring`` reads every model's rows of the contacts once (``StoredScores.read``), each run takes
its previous rows' row ids from here (``rowids``: DuckDB fetches and deletes rows by id directly;
ids are stable inside a transaction, as no checkpoint runs in one), and tells what it wrote
(``replaced``, from the rows its insert returned), so the response is the rows as they now stand
(``rows_of``) without reading ``scores`` again. In the server the read itself is no scan either:
``engine.score_rowids`` fetches the rows by their known row ids (checked) and reads the rows
appended since; ``read`` scans only when that map cannot vouch for every published contact model.

A model rewritten for a contact in the transaction has rows whose ids are unknown here: a second
run of it (the settling of a workflow's ``set``) finds them by scanning, as before. Nothing but
``engine.run`` writes ``scores`` inside the real-time transaction (workflow hooks write outbox
rows and properties), which is what keeps this view true; ``tests/engine/test_stored_scores.py``
checks it against a read of the table after commit, with settling, several models and a
contact that is not scored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from leadscore.engine.score_rowids import attached
from leadscore.storage.lookup_index import key_filter
from leadscore.storage.store import Store

#: A row as the API returns it (``api.reads.scores_of`` reads the same columns).
SCORE_COLUMNS = ("model", "model_version", "score", "tier", "grade", "groups", "as_of", "computed_at")
#: What ``engine.run`` inserts, returned by that insert for a view's contacts.
RETURNED = "contact_id, " + ", ".join(SCORE_COLUMNS)
#: What ``engine.score_rowids`` reads after ``rowid, contact_id, model``.
COLUMNS = ", ".join(SCORE_COLUMNS[1:])

Row = tuple[Any, ...]  #: the values of SCORE_COLUMNS


class StoredScores:
    """The ``scores`` rows of some contacts, every model, as they stand in the open transaction."""

    def __init__(self, ids: Iterable[str], models: Iterable[str] | None = None):
        self.ids = frozenset(ids)
        self._rows: dict[str, dict[str, Row]] = {c: {} for c in self.ids}
        self._rowids: dict[tuple[str, str], int] = {}
        self._rewritten: set[str] = set()
        #: the models whose rows this view holds every one of (None: every model's)
        self._complete = None if models is None else frozenset(models)

    @classmethod
    def read(cls, store: Store, ids: Sequence[str], models: Collection[str] = ()) -> StoredScores:
        """These contacts' rows, inside the transaction that writes them: from the rows the server
        knows the row ids of (``engine.score_rowids``) when it vouches for every model of
        ``models`` (the published contact models), else one scan of ``scores``."""
        hints = attached(store)
        found = hints.rows(store.con, sorted(set(ids)), models, COLUMNS) if hints is not None and models else None
        view = cls(ids, None if found is None else models)
        if found is None:
            where, params = key_filter("contact_id", list(view.ids))
            found = store.con.execute(f"SELECT rowid, contact_id, {', '.join(SCORE_COLUMNS)} FROM scores "
                                      f"WHERE {where}", params).fetchall()
            if hints is not None:  # where they are now: the next read of these contacts fetches them by id
                hints.learn((row[2], row[1], int(row[0])) for row in found)
        for rowid, contact, *row in found:
            if (row[0], contact) in view._rowids:  # two live rows of a model: its run deletes by key
                view._rewritten.add(row[0])
            view._rows[contact][row[0]] = tuple(row)
            view._rowids[(row[0], contact)] = int(rowid)
        return view

    def rowids(self, model: str, ids: Sequence[str]) -> list[int] | None:
        """The row ids of these contacts' rows of ``model``; None when this view cannot tell
        (a contact it did not read, a model it did not read every row of, rows the
        transaction rewrote, or a contact with two rows of the model): the caller scans."""
        if model in self._rewritten or not self.ids.issuperset(ids):
            return None
        if self._complete is not None and model not in self._complete:
            return None
        return [self._rowids[(model, c)] for c in ids if (model, c) in self._rowids]

    def replaced(self, model: str, ids: Sequence[str], written: Iterable[Row]) -> None:
        """A run of ``model`` for ``ids`` replaced their rows with ``written`` (``RETURNED`` columns;
        a contact of ``ids`` without one has no row of the model now)."""
        self._rewritten.add(model)
        for contact in ids:
            if contact in self.ids:
                self._rows[contact].pop(model, None)
        for contact, *row in written:
            if contact in self.ids:
                self._rows[contact][model] = tuple(row)

    def rows_of(self, contact: str) -> list[Row] | None:
        """The contact's rows by model (``SCORE_COLUMNS``), or None when it is not in this view."""
        if contact not in self.ids:
            return None
        return [row for _, row in sorted(self._rows[contact].items())]
