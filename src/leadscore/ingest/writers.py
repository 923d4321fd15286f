"""The SQL that puts typed rows into contacts, events and deals.

Each kind first builds ``__ls_rows``: the typed columns, the row's key, ``__bad`` and ``__reason``
(type errors plus the kind's own rules), then writes the good rows:

* contacts and deals are upserted by key: the last row of the file wins over earlier ones with the
  same key, an existing row is updated only in the columns the file has, and only if a value
  changed; rows that change nothing count as duplicates;
* events are insert-only: a row whose event_id is already stored, or repeats an earlier row of the
  file, is a duplicate. There is no index on event_id (see storage/schema.py), so the stored ids
  that matter are found with a semi-join driven by the file's ids, never by hashing all events.

Contacts are identified by contact_id, or by e-mail when a row has none: the stored contact with
that address (case-insensitive) keeps its id, a new one gets ``c_`` + the first 16 hex digits of
sha1(lower(trim(email))); a generated event or deal id hashes the contact and the row's values.
Those rules are ``storage/identity.py``'s, which the API's Python follows too. Events and deals
resolve their contact the same way, so an event imported before its contact lands on the id the
contact will get if that contact is imported without an id of its own. A contact imported later
*with* an id (``c1``, ``a@x.com``) does not take over the events already stored under ``c_…`` of
its address: import contacts before their events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from leadscore.ingest.property_changes import HISTORY_KINDS, ChangeLog, record_import_changes, stage_import_changes
from leadscore.ingest.readers import drop_temp, first_row, scalar, sql_name
from leadscore.storage.identity import (
    CONTACT_ID_PREFIX,
    DEAL_ID_PREFIX,
    EVENT_ID_PREFIX,
    email_contact_id_sql,
    email_key_sql,
    generated_id_sql,
    owner_sql,
)


@dataclass(frozen=True)
class KindSpec:
    table: str
    key: str
    required: tuple[str, ...]  # must be non-empty after resolution
    lookup_only: tuple[str, ...]  # used to find the contact, not stored
    id_prefix: str
    id_parts: tuple[str, ...] | None  # columns hashed into a generated key; None = all stored ones


SPECS: dict[str, KindSpec] = {
    "contacts": KindSpec("contacts", "contact_id", ("contact_id",), (), CONTACT_ID_PREFIX, None),
    "events": KindSpec("events", "event_id", ("event_id", "contact_id", "type", "occurred_at"),
                       ("email",), EVENT_ID_PREFIX, None),
    # status, amount and closed_at change while a deal moves through the pipeline: not hashed
    "deals": KindSpec("deals", "deal_id", ("deal_id", "contact_id", "status"), ("email",), DEAL_ID_PREFIX,
                      ("name", "pipeline", "created_at")),
    # identified by their own id only (ingest/companies.py builds their rows)
    "companies": KindSpec("companies", "company_id", ("company_id",), (), "", None),
}


def prepare_rows(con: duckdb.DuckDBPyConnection, kind: str, typed_sql: str,
                 dests: list[str], *, proven: bool = False) -> list[str]:
    """Create ``__ls_rows`` from the typed rows; returns the stored columns, key first.

    ``proven``: the file's statistics show that the key, contact_id and every required column
    hold a value on every row and no value can fail its type (see importer._proven_events), so
    no row is bad and no key or contact needs resolving: the rows are the typed rows as they are.
    """
    spec = SPECS[kind]
    present = set(dests)
    carried = [d for d in dests if d.startswith("__")]  # read by the writers, never stored (changed_at)
    dests = [d for d in dests if not d.startswith("__")]
    if proven:
        stored = [d for d in dests if d not in spec.lookup_only and d not in (spec.key, "contact_id")]
        columns = [spec.key, "contact_id", *stored]
        drop_temp(con, ["__ls_rows"])
        con.execute(f"CREATE TEMP VIEW __ls_rows AS SELECT t.__row, "
                    f"{', '.join(f't.{sql_name(c)}' for c in columns)}, false AS __bad, "
                    f"NULL::VARCHAR AS __reason FROM ({typed_sql}) t")
        return columns
    joins, select = "", []
    contact_parts: list[str] = []
    if "contact_id" in present:
        contact_parts.append("t.contact_id")
    if "email" in present and _needs_email_lookup(con, typed_sql, "contact_id" in present):
        # stored contacts whose address appears in the file: the join stays as small as the file;
        # for contacts, also the file's own rows with an id: a row with only `DAVE@x.com` is the
        # contact another row of the same file gives an id, or a re-import would split them
        drop_temp(con, ["__ls_emails"])
        own = (f" UNION ALL SELECT {email_key_sql('email')}, contact_id FROM ({typed_sql}) "
               "WHERE contact_id IS NOT NULL AND email IS NOT NULL"
               if kind == "contacts" and "contact_id" in present else "")
        stored_key = email_key_sql("c.email")
        con.execute(f"CREATE TEMP TABLE __ls_emails AS SELECT em, min(cid) AS cid FROM ("
                    f"SELECT {stored_key} AS em, c.contact_id AS cid FROM contacts c "
                    f"WHERE {stored_key} IN "
                    f"(SELECT {email_key_sql('email')} FROM ({typed_sql}) WHERE email IS NOT NULL){own}) "
                    "GROUP BY em")
        joins = f"LEFT JOIN __ls_emails e ON e.em = {email_key_sql('t.email')}"
        contact_parts += ["e.cid", email_contact_id_sql("t.email")]
    contact = f"COALESCE({', '.join(contact_parts)})" if contact_parts else "NULL::VARCHAR"
    stored = [d for d in dests if d not in spec.lookup_only and d not in (spec.key, "contact_id")]

    if kind == "contacts":
        key = contact
    else:
        by = owner_sql("t.contact_id" if "contact_id" in present else None,
                       "t.email" if "email" in present else None)
        generated = generated_id_sql(spec.id_prefix, by, {
            c: f"t.{sql_name(c)}" for c in stored if spec.id_parts is None or c in spec.id_parts})
        key = f"COALESCE(t.{spec.key}, {generated})" if spec.key in present else generated
        select.append(f"{contact} AS contact_id")
    select = [f"{key} AS {spec.key}", *select, *(f"t.{sql_name(c)}" for c in stored + carried)]
    checks = [f"CASE WHEN {contact} IS NULL THEN 'no contact_id and no email' END"]
    missing = [f"{contact} IS NULL"]
    for col in spec.required:
        if col not in (spec.key, "contact_id"):
            # a value that failed to parse already has its reason; "empty" would be noise
            checks.append(f"CASE WHEN t.{sql_name(col)} IS NULL AND NOT contains("
                          f"COALESCE(t.__reason, ''), '{col}: ') THEN '{col} is empty' END")
            missing.append(f"t.{sql_name(col)} IS NULL")
    reason = f"NULLIF(concat_ws('; ', t.__reason, {', '.join(checks)}), '')"
    bad = f"(t.__bad OR {' OR '.join(missing)})"
    # Events are insert-only and read twice (check, insert): a view costs less than a copy,
    # unless ids are generated, since md5 over every row costs more than a copy does.
    view = kind == "events" and spec.key in present
    drop_temp(con, ["__ls_rows"])
    con.execute(f"CREATE TEMP {'VIEW' if view else 'TABLE'} __ls_rows AS SELECT t.__row, "
                f"{', '.join(select)}, {bad} AS __bad, CASE WHEN {bad} THEN {reason} END AS __reason "
                f"FROM ({typed_sql}) t {joins}")
    return [spec.key, *(["contact_id"] if kind != "contacts" else []), *stored]


def _needs_email_lookup(con: duckdb.DuckDBPyConnection, typed_sql: str, has_ids: bool) -> bool:
    """E-mails identify a row's contact only where the row has no contact_id."""
    if not has_ids:
        return True
    return scalar(con, f"SELECT count(*) FROM ({typed_sql}) WHERE contact_id IS NULL "
                       "AND email IS NOT NULL") > 0


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    unknown_contacts: int = 0
    changes: int = 0  # property changes recorded in the history (contacts, companies)


def upsert(con: duckdb.DuckDBPyConnection, kind: str, columns: list[str],
           history: ChangeLog | None = None) -> WriteCounts:
    """Contacts and deals: update changed rows, insert new ones (see the module docstring).

    ``history``: record the contacts' or companies' property changes (``property_changes.py``) as well.
    """
    spec = SPECS[kind]
    key = sql_name(spec.key)
    good, distinct = (int(v or 0) for v in first_row(
        con, f"SELECT count(*), count(DISTINCT hash({key})) FROM __ls_rows WHERE NOT __bad"))
    drop_temp(con, ["__ls_good"])
    if distinct == good:  # no key repeats (a hash collision only takes the slower path)
        con.execute("CREATE TEMP VIEW __ls_good AS SELECT * EXCLUDE (__bad, __reason) "
                    "FROM __ls_rows WHERE NOT __bad")
    else:  # the last row of the file wins
        con.execute(f"CREATE TEMP TABLE __ls_good AS SELECT * EXCLUDE (__bad, __reason) "
                    f"FROM __ls_rows WHERE NOT __bad QUALIFY row_number() OVER (PARTITION BY {key} "
                    f"ORDER BY __row DESC) = 1")
    counts = WriteCounts()
    others = [c for c in columns if c != spec.key]
    stored_rows = scalar(con, f"SELECT count(*) FROM (SELECT 1 FROM {spec.table} LIMIT 1)")
    changes = (history is not None and kind in HISTORY_KINDS and (stored_rows or history.dated)
               and stage_import_changes(con, "__ls_good", others, history, HISTORY_KINDS[kind]))
    if others and stored_rows:
        sets = ", ".join(f"{sql_name(c)} = g.{sql_name(c)}" for c in others)
        changed = " OR ".join(f"t.{sql_name(c)} IS DISTINCT FROM g.{sql_name(c)}" for c in others)
        counts.updated = scalar(con, f"UPDATE {spec.table} AS t SET {sets} FROM __ls_good g "
                                     f"WHERE t.{key} = g.{key} AND ({changed})")
    names = ", ".join(sql_name(c) for c in columns)
    counts.inserted = scalar(con, f"INSERT INTO {spec.table} ({names}) SELECT {names} FROM __ls_good g "
                                  f"WHERE NOT EXISTS (SELECT 1 FROM {spec.table} t WHERE t.{key} = g.{key})")
    counts.duplicates = good - counts.inserted - counts.updated
    if changes and history is not None:
        counts.changes = record_import_changes(con, history, HISTORY_KINDS[kind]).recorded
    if kind == "deals":
        counts.unknown_contacts = scalar(
            con, "SELECT count(*) FROM __ls_good g WHERE NOT EXISTS "
                 "(SELECT 1 FROM contacts c WHERE c.contact_id = g.contact_id)")
    drop_temp(con, ["__ls_good"])
    return counts


@dataclass(frozen=True)
class EventStats:
    bad: int  # rows with a reason
    good: int
    repeated: bool  # some event_id may occur twice among the good rows
    unknown_contacts: int


def event_stats(con: duckdb.DuckDBPyConnection, *, proven: bool = False) -> EventStats:
    """One pass over the (unmaterialised) event rows for every count the import needs.

    Repeats are detected on a 64-bit hash of event_id, a fifth cheaper than on the strings; a
    collision only sends the import down the exact path, which finds no repeat. Rows ``proven``
    good (see :func:`prepare_rows`) need no verdict: the pass then reads event_id alone (and
    contact_id when contacts are stored) without FILTER clauses, which DuckDB's distinct
    aggregate pays for even when the filter is constant.
    """
    has_contacts = scalar(con, "SELECT count(*) FROM (SELECT 1 FROM contacts LIMIT 1)") > 0
    join = ("LEFT JOIN (SELECT DISTINCT contact_id FROM contacts) c ON c.contact_id = r.contact_id"
            if has_contacts else "")
    good_row = "true" if proven else "NOT r.__bad"
    unknown = (f"count(*) FILTER (WHERE {good_row} AND c.contact_id IS NULL)"
               if has_contacts else f"count(*) FILTER (WHERE {good_row})")
    with _oversubscribed(con):
        if proven:
            good, distinct, unknown_n = (int(v or 0) for v in first_row(
                con, f"SELECT count(*), count(DISTINCT hash(r.event_id)), {unknown} "
                     f"FROM __ls_rows r {join}"))
            return EventStats(0, good, distinct < good, unknown_n)
        bad, good, distinct, unknown_n = (int(v or 0) for v in first_row(
            con, f"SELECT count(*) FILTER (WHERE r.__bad), count(*) FILTER (WHERE NOT r.__bad), "
                 f"count(DISTINCT hash(r.event_id)) FILTER (WHERE NOT r.__bad), {unknown} "
                 f"FROM __ls_rows r {join}"))
    return EventStats(bad, good, distinct < good, unknown_n)


@contextmanager
def _oversubscribed(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Twice as many DuckDB threads as configured, for one query.

    The repeat check is a hash table of every event id: its threads mostly wait on memory, and
    on this 2-core machine 4 threads finish it in 0.27-0.34 s where 2 take 0.45-0.63 s (5M ids).
    The insert that follows compresses, which is compute-bound, and is fastest with the
    configured threads, so they are restored right after.
    """
    threads = scalar(con, "SELECT current_setting('threads')")
    con.execute(f"SET threads = {threads * 2}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {threads}")


def insert_events(con: duckdb.DuckDBPyConnection, columns: list[str],
                  stats: EventStats) -> WriteCounts:
    """Insert the good rows whose event_id is neither stored nor repeated earlier in the file."""
    filters = ["NOT r.__bad"]
    drop_temp(con, ["__ls_seen", "__ls_first"])
    if scalar(con, "SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1)"):
        # driven by the file's ids: never builds a hash table of every stored event
        con.execute("CREATE TEMP TABLE __ls_seen AS SELECT DISTINCT event_id FROM events "
                    "WHERE event_id IN (SELECT event_id FROM __ls_rows WHERE NOT __bad)")
        seen = scalar(con, "SELECT count(*) FROM __ls_seen")
        if seen and seen == stats.good and not stats.repeated:  # the same file again
            drop_temp(con, ["__ls_seen"])
            return WriteCounts(duplicates=stats.good, unknown_contacts=stats.unknown_contacts)
        if seen:
            filters.append("r.event_id NOT IN (SELECT event_id FROM __ls_seen)")
    if stats.repeated:
        con.execute("CREATE TEMP TABLE __ls_first AS SELECT event_id, min(__row) AS keep "
                    "FROM __ls_rows WHERE NOT __bad GROUP BY event_id HAVING count(*) > 1")
        filters.append("NOT EXISTS (SELECT 1 FROM __ls_first f WHERE f.event_id = r.event_id "
                       "AND f.keep <> r.__row)")
    names = ", ".join(sql_name(c) for c in columns)
    select = ", ".join(f"r.{sql_name(c)}" for c in columns)
    inserted = scalar(con, f"INSERT INTO events ({names}) SELECT {select} FROM __ls_rows r "
                           f"WHERE {' AND '.join(filters)}")
    drop_temp(con, ["__ls_seen", "__ls_first"])
    return WriteCounts(inserted=inserted, duplicates=stats.good - inserted,
                       unknown_contacts=stats.unknown_contacts)
