"""What a contacts (or companies) import changed, for the property history (``storage/history.py``).

An import writes the file's values into ``contacts`` (``writers.upsert``); just before, this
module stages each real change, so that scores "as of" a past date read the values of that date:

* an existing contact whose value differs from the stored one: a change from the stored value to
  the file's, true from the row's ``changed_at`` column when the mapping names one (HubSpot's
  ``Last Modified Date``, say), else from the import's time. A value equal to the stored one
  records nothing;
* a new contact: nothing, its values are *assumed* to have held since its ``created_at`` (the
  first known values), unless the row has a ``changed_at``: then each of its values is a change
  at that moment (before it, the contact's properties were empty).

A ``changed_at`` after the import's time counts as the import's time (a value cannot become true
in the future). ``created_at`` and ``contact_id`` have no history. A companies import records its
companies' changes the same way, in the companies' history (``HISTORY_KINDS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from leadscore.ingest.readers import sql_name, sql_str
from leadscore.storage.history import COMPANIES, CONTACTS, Level, Recorded, record_changes, stage_table

#: The kinds of import whose properties have a history, and that history.
HISTORY_KINDS: dict[str, Level] = {"contacts": CONTACTS, "companies": COMPANIES}
#: The column of ``__ls_rows`` carrying the row's ``changed_at`` (read, never stored).
CHANGED_AT = "__changed_at"


@dataclass(frozen=True)
class ChangeLog:
    """How an import records the changes it makes: who (``source``, ``run_id``) and when."""

    source: str
    run_id: str
    now: datetime
    dated: bool  # the rows carry a CHANGED_AT column


def _values(columns: Sequence[str], alias: str, *, with_old: bool) -> str:
    """A list of structs, one per versioned column: name, new text[, old text, whether it differs]."""
    items = []
    for c in columns:
        new, old = f"g.{sql_name(c)}", f"{alias}.{sql_name(c)}"
        fields = f"'p': {sql_str(c)}, 'v': CAST({new} AS VARCHAR)"
        if with_old:
            fields += f", 'was': CAST({old} AS VARCHAR), 'differs': {new} IS DISTINCT FROM {old}"
        items.append("{" + fields + "}")
    return "[" + ", ".join(items) + "]"


def stage_import_changes(con: duckdb.DuckDBPyConnection, good: str, columns: Sequence[str],
                         log: ChangeLog, level: Level = CONTACTS) -> bool:
    """Stage the changes the rows of ``good`` will make to ``contacts`` (or ``level``'s table),
    before they are written.

    Returns whether anything was staged. ``columns`` are the stored columns of the file.
    """
    stage = stage_table(con, level)
    k, table = level.key, level.table
    versioned = [c for c in columns if c not in level.unversioned]
    if not versioned:
        return False
    at = f"least(coalesce(g.{CHANGED_AT}, $now), $now)" if log.dated else "$now"
    con.execute(f"""INSERT INTO {stage}
        SELECT {k}, x.p, x.v, moment, x.was, false, ord FROM (
            SELECT g.{k}, g.__row AS ord, {at} AS moment, unnest({_values(versioned, 't', with_old=True)}) AS x
            FROM {good} g JOIN {table} t ON t.{k} = g.{k})
        WHERE x.differs""", {"now": log.now})
    if log.dated:
        con.execute(f"""INSERT INTO {stage}
            SELECT {k}, x.p, x.v, moment, NULL, false, ord FROM (
                SELECT g.{k}, g.__row AS ord, least(g.{CHANGED_AT}, $now) AS moment,
                       unnest({_values(versioned, 't', with_old=False)}) AS x
                FROM {good} g WHERE g.{CHANGED_AT} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{k} = g.{k}))
            WHERE x.v IS NOT NULL""", {"now": log.now})
    row = con.execute(f"SELECT count(*) FROM {stage}").fetchone()
    return bool(row and row[0])


def record_import_changes(con: duckdb.DuckDBPyConnection, log: ChangeLog, level: Level = CONTACTS) -> Recorded:
    """Record what ``stage_import_changes`` staged, once the rows are written."""
    return record_changes(con, source=log.source, run_id=log.run_id, now=log.now, current_written=True,
                          level=level)
