"""Property history: every change of a contact property, with the moment it became true.

What it means (normative; docs/model-reference.md "Properties as of a date"):

* the value of property p as of T is the value of p's latest recorded change at or before T;
* a value imported with no change time is *assumed* to have held since the contact's
  ``created_at`` (or always, when that is empty): it is the ``old_value`` of p's first change, or
  the value in ``contacts`` when p never changed;
* the current value, in ``contacts``, is the latest change: scoring now reads ``contacts`` alone.

Every writer of contact properties records its changes here, through one function,
``record_changes``: imports (``ingest``), ``leadscore import history``, the API's PUT and Segment
``identify``, workflow ``set`` actions, and the dashboard (``write_properties`` for one contact).
A writer stages its changes in the temp table ``__ls_changes`` (``stage_table``), then calls it.
Changes may arrive in any order (a history file, a backdated ``timestamp``): ``record_changes``
keeps each row's ``old_value`` equal to the previous row's ``new_value`` and ``contacts`` equal
to the latest change. It stores every staged change not already stored, so the history is the
same whatever order the changes came in. A value that does not change records nothing: writers
stage only values that differ from the current one, and a change whose value is the one already
in effect at its moment (a backdated write, a history file repeating a value) is not stored.
Everything runs in the caller's transaction, set-based (a re-import of a million contacts is a
few statements).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from leadscore.errors import NotFoundError
from leadscore.model.properties import UNVERSIONED_COLUMNS
from leadscore.storage import lead_rows
from leadscore.storage.migrations_company_history import COMPANY_HISTORY, COMPANY_LATEST_KEY
from leadscore.storage.migrations_history import LATEST_KEY
from leadscore.storage.sql_names import quoted
from leadscore.timeutil import to_utc_naive

#: Contact columns that are not versioned (the key, and ``created_at``, the anchor of assumed values).
UNVERSIONED = UNVERSIONED_COLUMNS


@dataclass(frozen=True)
class Level:
    """Whose properties a history holds: contacts, or companies (``migrations_company_history.py``).

    Both follow the same rule and the same writer; only the names differ.
    """

    table: str  #: the table of current values
    key: str  #: its key column
    history: str  #: the table of changes
    latest_key: str  #: the ``meta`` row bounding its latest ``changed_at``
    unversioned: frozenset[str]  #: columns with no history (the key, ``created_at``)
    noun: str  #: "contact" / "company", for messages


CONTACTS = Level("contacts", "contact_id", "property_history", LATEST_KEY, UNVERSIONED_COLUMNS, "contact")
COMPANIES = Level("companies", "company_id", COMPANY_HISTORY, COMPANY_LATEST_KEY,
                  frozenset({"company_id", "created_at"}), "company")
#: The staging table a writer fills before calling ``record_changes``.
STAGE = "__ls_changes"
_TEMP = (STAGE, "__ls_pairs", "__ls_merged", "__ls_dirty", "__ls_settle")


def stage_table(con: duckdb.DuckDBPyConnection, level: Level = CONTACTS) -> str:
    """Create (empty) the staging table of changes and return its name.

    Columns: ``contact_id`` (``company_id`` for companies), ``property``; ``new_value`` (DuckDB's
    text of the typed value) and
    ``changed_at`` (NULL: the row only states the value assumed before the first change);
    ``before_value`` the value before the first recorded change, and ``before_known``: TRUE when
    the writer knows it for sure (a history file's assumed value), FALSE when it is the stored
    current value, used only if the property has no recorded change yet; ``ord`` orders rows of
    one key (the last wins).
    """
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {STAGE} (
        {level.key} VARCHAR, property VARCHAR, new_value VARCHAR, changed_at TIMESTAMP,
        before_value VARCHAR, before_known BOOLEAN, ord BIGINT)""")
    return STAGE


@dataclass
class Recorded:
    """What ``record_changes`` did."""

    recorded: int = 0  #: changes stored (new ones, or corrections of a stored change)
    unchanged: int = 0  #: staged changes already stored as they are
    contacts_updated: int = 0  #: current values moved to the latest change


def record_changes(con: duckdb.DuckDBPyConnection, *, source: str, now: datetime, run_id: str | None = None,
                   current_written: bool = True, level: Level = CONTACTS) -> Recorded:
    """Merge the staged changes (``stage_table``) into ``property_history`` (``level``'s history).

    ``current_written``: the caller has already written each change's new value to ``contacts``
    (imports, API, workflows do); only properties whose staged change is older than a stored one
    are then put back to their latest value. Without it (history files) every property touched is
    set to its latest value.
    """
    try:
        return _record(con, source, now, run_id, current_written, level)
    finally:
        drop_temp(con, _TEMP)


def _record(con: duckdb.DuckDBPyConnection, source: str, now: datetime, run_id: str | None,
            current_written: bool, level: Level) -> Recorded:
    k, hist = level.key, level.history
    # one row per (contact, property): the value before its first change, and what is stored
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_pairs AS
        WITH p AS (
            SELECT {k}, property, bool_or(before_known) AS known,
                   CASE WHEN bool_or(before_known)
                        THEN arg_max_null(before_value, ord) FILTER (WHERE before_known)
                        ELSE max(before_value) END AS before_value,
                   max(changed_at) AS incoming_latest
            FROM {STAGE} GROUP BY {k}, property),
        e AS (
            SELECT h.{k}, h.property, arg_min_null(h.old_value, h.changed_at) AS stored_first_old,
                   max(h.changed_at) AS stored_latest
            FROM {hist} h SEMI JOIN p USING ({k}, property)
            GROUP BY h.{k}, h.property)
        SELECT p.{k}, p.property, p.known, p.incoming_latest, e.stored_latest,
               e.stored_latest IS NOT NULL AS had_rows,
               CASE WHEN p.known THEN p.before_value WHEN e.stored_latest IS NOT NULL THEN e.stored_first_old
                    ELSE p.before_value END AS first_old
        FROM p LEFT JOIN e USING ({k}, property)""")
    # stored and staged rows of those properties in time order, each old value recomputed
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_merged AS
        WITH incoming AS (
            SELECT {k}, property, new_value, changed_at FROM {STAGE} WHERE changed_at IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY {k}, property, changed_at ORDER BY ord DESC) = 1),
        stored AS (SELECT h.* FROM {hist} h SEMI JOIN __ls_pairs USING ({k}, property)),
        fresh AS (
            SELECT i.* FROM incoming i ANTI JOIN stored s
              ON s.{k} = i.{k} AND s.property = i.property AND s.changed_at = i.changed_at
             AND s.new_value IS NOT DISTINCT FROM i.new_value),
        merged AS (
            SELECT s.{k}, s.property, s.new_value, s.changed_at, s.source, s.run_id, s.recorded_at,
                   false AS incoming, s.old_value AS stored_old
            FROM stored s ANTI JOIN fresh f USING ({k}, property, changed_at)
            UNION ALL
            SELECT {k}, property, new_value, changed_at, $source, $run, $now, true, NULL FROM fresh),
        chained AS (
            SELECT m.*,
                   CASE WHEN row_number() OVER w = 1 THEN p.first_old ELSE lag(m.new_value) OVER w END AS old_value
            FROM merged m JOIN __ls_pairs p USING ({k}, property)
            WINDOW w AS (PARTITION BY m.{k}, m.property ORDER BY m.changed_at))
        -- a row whose value is the one already in effect changes nothing: it is never stored (the
        -- rows after it keep their old values, since its new value is its old one)
        SELECT *, old_value IS NOT DISTINCT FROM new_value AS noop FROM chained""",
                {"source": source, "run": run_id, "now": now})
    staged, recorded, dirty = _first(con, f"""SELECT (SELECT count(*) FROM {STAGE} WHERE changed_at IS NOT NULL),
        count(*) FILTER (WHERE incoming AND NOT noop), count(*) FILTER (WHERE {_DIRTY}) FROM __ls_merged""")
    if dirty:
        # rewrite the properties where some row is new, got another old value or became a no-op
        con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_dirty AS SELECT DISTINCT {k}, property
            FROM __ls_merged WHERE {_DIRTY}""")
        con.execute(f"DELETE FROM {hist} h WHERE EXISTS (SELECT 1 FROM __ls_dirty d "
                    f"WHERE d.{k} = h.{k} AND d.property = h.property)")
        con.execute(f"""INSERT INTO {hist}
            SELECT {k}, property, old_value, new_value, changed_at, source, run_id, recorded_at
            FROM __ls_merged SEMI JOIN __ls_dirty USING ({k}, property) WHERE NOT noop""")
    result = Recorded(recorded=recorded, unchanged=staged - recorded)
    result.contacts_updated = _settle_current(con, current_written, level)
    _raise_latest(con, level)
    return result


#: A property of ``__ls_merged`` must be rewritten: a row came in (it may also have replaced a
#: stored row of the same moment), or a stored row got another old value or became a no-op.
_DIRTY = "incoming OR noop OR old_value IS DISTINCT FROM stored_old"


def _settle_current(con: duckdb.DuckDBPyConnection, current_written: bool, level: Level) -> int:
    """Put each touched property's latest value in ``contacts`` where it is not there already."""
    k = level.key
    which = "" if not current_written else "WHERE p.stored_latest > p.incoming_latest"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_settle AS
        SELECT p.{k}, p.property,
               CASE WHEN l.{k} IS NULL THEN p.first_old ELSE l.value END AS value
        FROM __ls_pairs p LEFT JOIN (
            SELECT {k}, property, arg_max_null(new_value, changed_at) AS value
            FROM __ls_merged GROUP BY {k}, property) l USING ({k}, property)
        {which}""")
    types = column_types(con, level.table)
    updated = 0
    for (name,) in con.execute("SELECT DISTINCT property FROM __ls_settle ORDER BY 1").fetchall():
        if name not in types or name in level.unversioned:
            continue
        typed = f"CAST(s.value AS {types[name]})"
        updated += _first(con, f"""UPDATE {level.table} AS c SET {quoted(name)} = {typed} FROM __ls_settle s
            WHERE s.property = $name AND s.{k} = c.{k}
              AND c.{quoted(name)} IS DISTINCT FROM {typed}""", {"name": name})[0]
    if updated and level is CONTACTS:  # the leads list shows owner, name, e-mail, company: keep its rows right
        lead_rows.refresh_people(con, ids_sql="SELECT contact_id FROM __ls_settle")
    return updated


def _raise_latest(con: duckdb.DuckDBPyConnection, level: Level) -> None:
    """Keep ``meta.property_history_latest`` at or after every stored change (see latest_change)."""
    row = con.execute(f"SELECT max(changed_at) FROM {STAGE}").fetchone()
    incoming = row[0] if row else None
    if incoming is None:
        return
    latest = latest_change(con, level)
    if latest is None or incoming > latest:
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, CAST(? AS VARCHAR))", [level.latest_key, incoming])


def _first(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[int, ...]:
    row = con.execute(sql, params).fetchone()
    return tuple(int(v or 0) for v in row) if row else (0,)


def drop_temp(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def column_types(con: duckdb.DuckDBPyConnection, table: str = "contacts") -> dict[str, str]:
    """The contacts table's (or ``table``'s) columns and their DuckDB types."""
    return dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", [table]).fetchall())


# --------------------------------------------------------------------------- one contact's writes


def write_properties(con: duckdb.DuckDBPyConnection, contact_id: str, values: Mapping[str, Any], *,
                     source: str, now: datetime, changed_at: datetime | None = None,
                     run_id: str | None = None, bump_updated_at: bool = False,
                     level: Level = CONTACTS) -> dict[str, Any]:
    """Set some properties of one existing contact (or company: ``level``) and record each real
    change in its history.

    The one call for a writer of a single contact (the API's PUT and ``identify``, the dashboard):
    values equal to the stored ones change nothing; the others are recorded as true from
    ``changed_at`` (default ``now``). ``bump_updated_at`` moves ``updated_at`` to that moment too
    when something changed, never backwards. Returns the properties written and their values; the
    caller rescores the contact when that is not empty. Values must already fit their columns (the
    API checks them with ``api/values.py``).

    A write dated before the contact's ``updated_at`` (a late Segment ``identify``, a
    ``PUT ?timestamp=`` replayed from an old log) goes into the past only: the stored values were
    known true at ``updated_at`` (the CRM's last modification an import brought, or leadscore's
    last write), so each such property gets a change back to its stored value at that moment,
    unless a later recorded change already says what came after. The current values stay current
    (unless the write brings an ``updated_at`` of its own after the stored one: a newer record).
    """
    when = change_instant(changed_at, now)
    names = [n for n in values if n != level.key]
    current = _current(con, level, contact_id, list(dict.fromkeys([*names, "updated_at"])))
    if current is None:
        raise KeyError(contact_id)
    known_at = current["updated_at"] if "updated_at" in names else current.pop("updated_at")
    diff = {n: values[n] for n in names if values[n] != current[n]}
    if not diff:
        return {}
    if bump_updated_at and "updated_at" not in values and (known_at is None or when > known_at):
        diff["updated_at"] = when
    types = column_types(con, level.table)
    before = _texts(con, level, contact_id, list(diff))
    sets = ", ".join(f"{quoted(n)} = ?" for n in diff)
    con.execute(f"UPDATE {level.table} SET {sets} WHERE {level.key} = ?", [*diff.values(), contact_id])
    if level is CONTACTS and lead_rows.shown(diff):  # the leads list's rows of this contact
        lead_rows.refresh_people(con, [contact_id])
    stage_table(con, level)
    versioned = {n: v for n, v in diff.items() if n not in level.unversioned}
    if versioned:
        _stage_values(con, contact_id, versioned, types, when, before)
        backdated = (known_at is not None and when < known_at
                     and not _newer_record(con, level, contact_id, names, known_at))
        if backdated:
            _stage_anchors(con, level, contact_id, list(versioned), when, known_at, before)
        # a backdated write may leave the stored values current: settle every property it touched
        record_changes(con, source=source, now=now, run_id=run_id, current_written=not backdated, level=level)
    return diff


def _newer_record(con: duckdb.DuckDBPyConnection, level: Level, contact_id: str, names: list[str],
                  known_at: datetime) -> bool:
    """Whether the write brought an ``updated_at`` after ``known_at`` (just written to ``contacts``):
    a CRM record modified since the stored one, whose values are the newer news whatever their date."""
    if "updated_at" not in names:
        return False
    row = con.execute(f"SELECT updated_at > ? FROM {level.table} WHERE {level.key} = ?",
                      [known_at, contact_id]).fetchone()
    return bool(row and row[0])


def _stage_anchors(con: duckdb.DuckDBPyConnection, level: Level, contact_id: str, names: list[str], when: datetime,
                   known_at: datetime, before: Mapping[str, str | None]) -> None:
    """For a write dated ``when`` before ``known_at``: the stored value of each property named, as a
    change at ``known_at``, where no recorded change of it came at or after ``when`` (one that did
    is later than the write and stays the latest)."""
    recorded = dict(con.execute(
        f"SELECT property, max(changed_at) FROM {level.history} WHERE {level.key} = ? "
        "AND property IN (SELECT unnest(?::VARCHAR[])) GROUP BY property", [contact_id, names]).fetchall())
    rows = [(contact_id, n, before.get(n), known_at, before.get(n), False, len(names) + i)
            for i, n in enumerate(names) if recorded.get(n) is None or recorded[n] < when]
    if rows:
        con.executemany(f"INSERT INTO {STAGE} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def record_initial_values(con: duckdb.DuckDBPyConnection, contact_id: str, names: Sequence[str], *,
                          changed_at: datetime, source: str, now: datetime, run_id: str | None = None,
                          level: Level = CONTACTS) -> None:
    """A contact just created with values known to be true from ``changed_at`` (not before).

    Without a time, a new contact's values are assumed to have held since its ``created_at`` and
    nothing is recorded; with one, each non-empty value is a change at that moment.
    """
    wanted = [n for n in names if n not in level.unversioned]
    if not wanted:
        return
    present = {n: t for n, t in _texts(con, level, contact_id, wanted).items() if t is not None}
    if not present:
        return
    stage_table(con, level)
    when = change_instant(changed_at, now)
    rows = [(contact_id, n, t, when, None, False, i) for i, (n, t) in enumerate(present.items())]
    con.executemany(f"INSERT INTO {STAGE} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    record_changes(con, source=source, now=now, run_id=run_id, level=level)


def change_instant(changed_at: datetime | None, now: datetime) -> datetime:
    """A change's moment: given (naive UTC, never after ``now``) or ``now``."""
    if changed_at is None:
        return now
    return min(to_utc_naive(changed_at), now)


def _current(con: duckdb.DuckDBPyConnection, level: Level, contact_id: str,
             names: list[str]) -> dict[str, Any] | None:
    cols = ", ".join(quoted(n) for n in names) or "1"
    row = con.execute(f"SELECT {cols} FROM {level.table} WHERE {level.key} = ?", [contact_id]).fetchone()
    if row is None:
        return None
    return dict(zip(names, row, strict=False))


def _texts(con: duckdb.DuckDBPyConnection, level: Level, contact_id: str, names: list[str]) -> dict[str, str | None]:
    """The stored values as DuckDB's text of them (the form the history holds)."""
    cols = ", ".join(f"CAST({quoted(n)} AS VARCHAR)" for n in names)
    row = con.execute(f"SELECT {cols} FROM {level.table} WHERE {level.key} = ?", [contact_id]).fetchone()
    return dict(zip(names, row or [None] * len(names), strict=True))


def _stage_values(con: duckdb.DuckDBPyConnection, contact_id: str, values: Mapping[str, Any],
                  types: Mapping[str, str], when: datetime, before: Mapping[str, str | None]) -> None:
    """One staged change per value, its text made by DuckDB from the column's type."""
    if not values:
        return
    selects, params = [], []
    for i, (name, value) in enumerate(values.items()):
        selects.append(f"SELECT ?, ?, CAST(CAST(? AS {types[name]}) AS VARCHAR), ?, ?, false, {i}")
        params += [contact_id, name, value, when, before.get(name)]
    con.execute(f"INSERT INTO {STAGE} " + " UNION ALL ".join(selects), params)


# --------------------------------------------------------------------------- reading


def latest_change(con: duckdb.DuckDBPyConnection, level: Level = CONTACTS) -> datetime | None:
    """The latest ``changed_at`` ever recorded (an upper bound: one row of ``meta``, no scan)."""
    # fetchall: a result left unfinished (fetchone) makes DuckDB refuse the next relation query on
    # this connection (a staged run's snapshot query failed so on a store with property history)
    rows = con.execute("SELECT CAST(value AS TIMESTAMP) FROM meta WHERE key = ?", [level.latest_key]).fetchall()
    return rows[0][0] if rows else None


def needs_history(con: duckdb.DuckDBPyConnection, as_of: datetime, level: Level = CONTACTS) -> bool:
    """Whether a score as of ``as_of`` must read the history: some change came after it.

    When none did, every property's value as of ``as_of`` is its current one, in ``contacts``
    (``companies`` for the companies' history).
    """
    latest = latest_change(con, level)
    return latest is not None and latest > to_utc_naive(as_of)


def changes_of(con: duckdb.DuckDBPyConnection, contact_id: str, *, prop: str | None = None,
               limit: int | None = None, level: Level = CONTACTS) -> list[dict[str, Any]]:
    """A contact's (or company's) recorded property changes, newest first."""
    sql = ("SELECT property, old_value, new_value, changed_at, source, run_id, recorded_at "
           f"FROM {level.history} WHERE {level.key} = ? AND (? IS NULL OR property = ?) "
           "ORDER BY changed_at DESC, property")
    params: list[Any] = [contact_id, prop, prop]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def checked_property(con: duckdb.DuckDBPyConnection, prop: str | None, level: Level = CONTACTS) -> str | None:
    """The contacts column ``prop`` names: as stored, or as a file's header names it (`Lifecycle
    Stage` is ``lifecycle_stage``). An unknown name is a ``NotFoundError`` naming the close ones,
    never an empty list of changes."""
    if prop is None:
        return None
    columns = list(column_types(con, level.table))
    if prop in columns:
        return prop
    folded = re.sub(r"[^0-9a-z]+", "_", prop.strip().lower()).strip("_")
    if folded in columns:
        return folded
    close = difflib.get_close_matches(folded, columns, 3, 0.6)
    hint = f"; did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    raise NotFoundError(f"no {level.noun} property `{prop}`{hint}")


def contact_history(con: duckdb.DuckDBPyConnection, contact_id: str, *, model: str | None = None,
                    prop: str | None = None, limit: int = 100) -> dict[str, Any]:
    """A contact's score changes and property changes, newest first (``leadscore history``, the API).

    Raises ``NotFoundError`` for an unknown contact or property (``checked_property``).
    """
    if con.execute("SELECT 1 FROM contacts WHERE contact_id = ?", [contact_id]).fetchone() is None:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    prop = checked_property(con, prop)
    cur = con.execute(
        """SELECT model, model_version, score, tier, prev_score, prev_tier, as_of, computed_at, run_id
           FROM score_history WHERE contact_id = ? AND (? IS NULL OR model = ?)
           ORDER BY computed_at DESC, as_of DESC LIMIT ?""", [contact_id, model, model, limit])
    names = [d[0] for d in cur.description or []]
    scores = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {"contact_id": contact_id, "scores": scores,
            "property_changes": changes_of(con, contact_id, prop=prop, limit=limit)}


def dated_properties(con: duckdb.DuckDBPyConnection, contact_id: str, names: Sequence[str],
                     as_of: datetime) -> set[str]:
    """Those of ``names`` whose value as of ``as_of`` comes from a dated change (not assumed)."""
    if not names:
        return set()
    rows = con.execute(
        "SELECT DISTINCT property FROM property_history WHERE contact_id = ? AND changed_at <= ? "
        "AND property IN (SELECT unnest(?::VARCHAR[]))", [contact_id, as_of, list(names)]).fetchall()
    return {r[0] for r in rows}


def assumed_values(con: duckdb.DuckDBPyConnection, contact_id: str, names: Sequence[str],
                   as_of: datetime) -> dict[str, str]:
    """Those of ``names`` whose value as of ``as_of`` is *assumed* (no dated change at or before
    it: the value first imported, taken to hold since ``created_at``), with that value as text.
    Empty values are left out: nothing is assumed about them."""
    names = [n for n in dict.fromkeys(names) if n not in UNVERSIONED]
    if not names:
        return {}
    rows = con.execute(
        """WITH n AS (SELECT unnest($names::VARCHAR[]) AS property),
           h AS (SELECT * FROM property_history WHERE contact_id = $cid AND property IN (SELECT property FROM n))
           SELECT n.property, bool_or(h.changed_at <= $at), arg_min_null(h.old_value, h.changed_at)
                  FILTER (WHERE h.changed_at > $at)
           FROM n LEFT JOIN h USING (property) GROUP BY n.property""",
        {"names": names, "cid": contact_id, "at": as_of}).fetchall()
    unchanged = [p for p, dated, _ in rows if dated is None]  # no change at all: the stored value
    found = {p: v for p, dated, v in rows if dated is False and v is not None}
    types = column_types(con)
    stored = [p for p in unchanged if p in types]
    if stored:
        found.update({p: v for p, v in _texts(con, CONTACTS, contact_id, stored).items() if v is not None})
    return {n: found[n] for n in names if n in found}


def properties_without_history(con: duckdb.DuckDBPyConnection, names: Sequence[str], as_of: datetime) -> list[str]:
    """Those of ``names`` with no change recorded at or before ``as_of`` for any contact: every
    value of theirs as of then is assumed (the value first imported, taken to hold since
    ``created_at``); a property filled in after the outcome would leak it."""
    if not names:
        return []
    rows = con.execute(
        "SELECT DISTINCT property FROM property_history WHERE changed_at <= ? "
        "AND property IN (SELECT unnest(?::VARCHAR[]))", [as_of, list(names)]).fetchall()
    dated = {r[0] for r in rows}
    return [n for n in names if n not in dated]


def assumed_shares(con: duckdb.DuckDBPyConnection, names: Sequence[str], as_of: datetime) -> dict[str, float]:
    """For each of ``names``, the share of the contacts existing at ``as_of`` whose value then is
    assumed (no recorded change of it at or before ``as_of``). One contact's dated change does not
    make a property honest: a field sales filled in after the outcome is assumed for the rest."""
    if not names:
        return {}
    flags = ", ".join(f"count(*) FILTER (WHERE NOT coalesce(list_contains(d.props, ${i}), false))"
                      for i in range(2, len(names) + 2))
    row = con.execute(
        f"""SELECT count(*), {flags} FROM contacts c LEFT JOIN (
                SELECT contact_id, list(DISTINCT property) AS props FROM property_history
                WHERE changed_at <= $1 GROUP BY contact_id) d USING (contact_id)
            WHERE c.created_at IS NULL OR c.created_at <= $1""", [as_of, *names]).fetchone()
    if not row or not row[0]:
        return {}
    return {n: row[i + 1] / row[0] for i, n in enumerate(names)}


def rows_as_of(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], as_of: datetime,
               level: Level = CONTACTS) -> list[dict[str, Any]]:
    """``rows`` (whole rows of ``level``'s table, as stored) with each property as of ``as_of``.

    The SQL's reading of the rule (``compiler/properties_as_of.py``): a property that changed after
    ``as_of`` had the old value of its first such change; the others have their stored value. For
    the few rows a reader shows (explain), not for a whole table; no history read when nothing
    changed after ``as_of``.
    """
    if not rows or not needs_history(con, as_of, level):
        return rows
    found = con.execute(
        f"SELECT {level.key}, property, arg_min_null(old_value, changed_at) FROM {level.history} "
        f"WHERE {level.key} IN (SELECT unnest(?)) AND changed_at > ? GROUP BY ALL",
        [[r[level.key] for r in rows], to_utc_naive(as_of)]).fetchall()
    if not found:
        return rows
    types = column_types(con, level.table)
    then: dict[Any, dict[str, Any]] = {}
    for key, name, text in found:
        if name in types and name not in level.unversioned:
            cast = con.execute(f"SELECT CAST(? AS {types[name]})", [text]).fetchone()
            then.setdefault(key, {})[name] = cast[0] if cast else None
    return [{**row, **then.get(row[level.key], {})} for row in rows]
