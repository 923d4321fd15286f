"""``leadscore import history FILE``: a file of contact property changes into the property history.

Two shapes, told apart by their columns (names as in ``ALIASES``, or renamed by the mapping):

* **long**: ``contact_id, property, value, changed_at`` — one row per change (HubSpot's and
  Salesforce's property history exports). An empty ``changed_at`` gives the value assumed to have
  held since the contact's ``created_at``, before its first dated change;
* **interval**: ``contact_id, property, value, valid_from, valid_to`` — one row per period a value
  held (the ``*_history`` tables of CRM connectors, dbt snapshots: ``dbt_valid_from`` /
  ``dbt_valid_to``, Fivetran's ``_fivetran_start`` / ``_fivetran_end``). Each row is a change at
  ``valid_from`` (empty: the assumed value); a ``valid_to`` that no later period of the same
  property follows ends the value (empty from then). A period starting at a ``valid_to``, or
  within a second after it, follows it: ends may be exclusive (dbt: the next start) or inclusive
  (Fivetran: the next start minus 1 ms). An empty ``valid_to``, or one after the import's time
  (``9999-12-31``), means "still true". Periods of one property that overlap (one starts before
  another's end) are both rejected, each naming the other: which value held then is unknown.

Each property names a contacts column (as written, in snake_case, or by the contacts import's
aliases: ``lifecyclestage`` is ``lifecycle_stage``); a property that is no column yet becomes one,
typed from its values as an import types a new column. Values are typed like the column (a bad one
rejects its row, with its line, in the rejects file), and so are times (``date_format`` of the
mapping for 03/04/2024). A row is also rejected for an unknown contact (import the contacts
first), a change after the import's time, or ``contact_id`` / ``created_at`` (not versioned).

The changes go in through ``storage.history.record_changes``, in one transaction: every change
not already stored is recorded (in any order), each contact's current value becomes its latest
change, and importing the same file again changes nothing.

**Companies**: a file whose key column is ``company_id`` (or ``account_id``), with no
``contact_id`` column, holds company property changes: the same two shapes and rules, into the
companies' history (``storage.history.COMPANIES``); each property names a ``companies`` column and
a row naming an unknown company is rejected (import the companies first).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from leadscore.errors import ImportError_
from leadscore.ingest.coerce import Coercion, clean_text, coerce, infer_text_columns
from leadscore.ingest.mapping import ALIASES, ColumnMapping, snake_case
from leadscore.ingest.readers import Source, detect_format, open_source, release, scalar, sql_name, sql_str
from leadscore.ingest.rejects import collect_rejects, first_reject, rejects_path, write_rejects
from leadscore.storage.companies import normalize_domain_sql, not_a_domain_sql
from leadscore.storage.history import COMPANIES, CONTACTS, Level, record_changes, stage_table
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

#: Header (snake_case) → the role of its column. The mapping's ``columns`` may name others.
ALIASES_HISTORY: dict[str, str] = {
    "contact_id": "contact_id", "record_id": "contact_id", "lead_id": "contact_id", "prospect_id": "contact_id",
    "property": "property", "property_name": "property", "field": "property", "field_name": "property",
    "value": "value", "property_value": "value", "new_value": "value",
    "changed_at": "changed_at", "timestamp": "changed_at", "change_date": "changed_at", "changed": "changed_at",
    "valid_from": "valid_from", "dbt_valid_from": "valid_from", "fivetran_start": "valid_from",
    "valid_to": "valid_to", "dbt_valid_to": "valid_to", "fivetran_end": "valid_to",
}
#: Header (snake_case) of a company history's key column.
COMPANY_KEYS = ("company_id", "account_id")
_TEMP = ["__ls_hist", "__ls_rows", "__ls_rejects"]


@dataclass
class HistoryImportResult:
    """What one history import did."""

    file: Path
    shape: str  # "long" | "interval"
    level: str  # "contacts" | "companies": whose properties the file's changes are
    rows_read: int
    recorded: int  # changes stored
    unchanged: int  # changes already stored as they are
    rejected: int
    rejects_file: Path | None
    contacts_updated: int  # current values moved to the latest change
    columns_added: list[str] = field(default_factory=list)
    seconds: float = 0.0
    import_id: str = ""


def import_history(store: Store, path: str | Path, *, mapping: ColumnMapping | None = None,
                   rejects_dir: Path | None = None, strict: bool = False,
                   file_format: str | None = None) -> HistoryImportResult:
    """Import a long or interval history file (see the module docstring); one transaction."""
    file, mapping = Path(path), mapping or ColumnMapping()
    fmt = detect_format(file, file_format)
    if not file.is_file():
        raise ImportError_(f"no such file: {file}")
    started, clock, con = utcnow(), time.perf_counter(), store.con
    source: Source | None = None
    try:
        source = open_source(con, file, fmt, mapping)
        roles, level = _roles(source, mapping)
        with store.transaction():
            result = _run(store, source, roles, mapping, started, strict, level)
            if result.rejected:
                target = rejects_path(rejects_dir or file.resolve().parent, "history", file, started)
                result.rejects_file = write_rejects(con, source, target)
            con.execute("INSERT INTO imports VALUES (?, 'history', ?, ?, ?, ?, ?, ?)",
                        [result.import_id, str(file.resolve()), started, result.recorded,
                         result.contacts_updated, result.unchanged, result.rejected])
    finally:
        release(con, source, _TEMP)
    result.seconds = time.perf_counter() - clock
    return result


def _roles(source: Source, mapping: ColumnMapping) -> tuple[dict[str, tuple[str, str]], Level]:
    """Role (contact_id, property, value, changed_at | valid_from, valid_to) → (SQL ref, type),
    and whose history it is: a file keyed by ``company_id`` (no ``contact_id``) is companies'."""
    renamed = {snake_case(k): snake_case(v) for k, v in mapping.columns.items() if v}
    if mapping.id_column:
        renamed[snake_case(mapping.id_column)] = "contact_id"
    roles: dict[str, tuple[str, str]] = {}
    company: tuple[str, str] | None = None
    for column in source.columns:
        norm = snake_case(column.name)
        role = ALIASES_HISTORY.get(renamed.get(norm, norm))
        if role and role not in roles:
            roles[role] = (column.ref, column.type)
        elif renamed.get(norm, norm) in COMPANY_KEYS and company is None:
            company = (column.ref, column.type)
    level = CONTACTS
    if "contact_id" not in roles and company is not None:
        roles["contact_id"], level = company, COMPANIES  # the row's key, whichever level
    names = ", ".join(c.name for c in source.columns)
    missing = [r for r in ("contact_id", "property", "value") if r not in roles]
    if missing or not {"changed_at", "valid_from"} & set(roles):
        raise ImportError_(
            f"{source.path.name}: a history file has the columns contact_id, property, value and either "
            f"changed_at (one row per change) or valid_from / valid_to (one row per period); found: {names}"
            + (f" (no {', '.join(missing)})" if missing else "") + "; rename with --column SOURCE=DEST "
            "(a company history has company_id in place of contact_id)")
    if "changed_at" in roles and "valid_from" in roles:
        raise ImportError_(f"{source.path.name}: both changed_at and valid_from columns; keep one shape")
    return roles, level


def _columns_of(con: duckdb.DuckDBPyConnection, level: Level) -> dict[str, str]:
    return dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [level.table]).fetchall())


def _property_names(names: list[str], columns: dict[str, str], level: Level) -> dict[str, str]:
    """The contacts (companies) column each property of the file names (or a new column's name)."""
    aliases = ALIASES[level.table]
    out = {}
    for name in names:
        norm = snake_case(name)
        out[name] = (name if name in columns else norm if norm in columns
                     else aliases.get(norm, norm) if aliases.get(norm, norm) in columns else norm)
    return out


def _run(store: Store, source: Source, roles: dict[str, tuple[str, str]], mapping: ColumnMapping,
         started: datetime, strict: bool, level: Level) -> HistoryImportResult:
    con, now = store.con, started
    import_id = uuid.uuid4().hex
    interval = "valid_from" in roles
    date_format = mapping.date_format if mapping.date_format not in (None, "auto") else "iso"
    text = {role: clean_text(f"CAST({ref} AS VARCHAR)") for role, (ref, _) in roles.items()}
    times = {role: coerce(role, roles[role][0], roles[role][1], "TIMESTAMP", date_format=date_format)
             for role in ("changed_at", "valid_from", "valid_to") if role in roles}
    # the typed times and cleaned text of every row, once
    time_sql = ", ".join(f"{_typed(c)} AS {role}, {c.clean} AS {role}_text" for role, c in times.items())
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_hist AS
        SELECT __row, {text['contact_id']} AS contact_id, {text['property']} AS property,
               {clean_text(f"CAST({roles['value'][0]} AS VARCHAR)", trim=source.format != "parquet")} AS value,
               {time_sql} FROM {source.relation}""")
    columns = _columns_of(con, level)
    names = [r[0] for r in con.execute(
        "SELECT DISTINCT property FROM __ls_hist WHERE property IS NOT NULL ORDER BY 1").fetchall()]
    target = _property_names(names, columns, level)
    unversioned = level.unversioned
    added = _add_columns(con, {n: c for n, c in target.items() if c not in columns and c not in unversioned},
                         columns, date_format, level)
    columns = _columns_of(con, level)
    typed, reasons = [], []
    for name, column in target.items():
        if column in unversioned or column not in columns:
            continue
        c = coerce(column, "value", "VARCHAR", columns[column], date_format=date_format)
        if level is COMPANIES and column == "domain":  # stored normalised, as the companies import does
            typed.append(f"WHEN {sql_str(name)} THEN {normalize_domain_sql('value')}")
            reasons.append(f"WHEN {sql_str(name)} THEN CASE WHEN {not_a_domain_sql('value')} THEN "
                           "'domain: `' || value || '` is not a domain name' END")
            continue
        typed.append(f"WHEN {sql_str(name)} THEN CAST({c.value.replace('{x}', 'value')} AS VARCHAR)")
        if c.reason:
            reasons.append(f"WHEN {sql_str(name)} THEN CASE WHEN value IS NOT NULL AND "
                           f"({c.value.replace('{x}', 'value')}) IS NULL THEN "
                           f"{c.reason.replace('{x}', 'value')} END")
    mapped = " ".join(f"WHEN {sql_str(n)} THEN {sql_str(c)}" for n, c in target.items())
    start = "valid_from" if interval else "changed_at"
    checks = [
        f"CASE WHEN contact_id IS NULL THEN 'no {level.key}' END",
        "CASE WHEN property IS NULL THEN 'no property' END",
        f"CASE WHEN column_name IN ({', '.join(sql_str(c) for c in sorted(unversioned))}) THEN printf("
        f"'%s has no history (it is the {level.noun}''s own id or creation time)', column_name) END",
        f"CASE WHEN contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {level.table} c WHERE c.{level.key} = "
        f"r.contact_id) THEN printf('unknown {level.noun} %s (import {level.table} first)', left(contact_id, 80)) END",
        "typed_reason",
        *[f"CASE WHEN {role}_text IS NOT NULL AND {role} IS NULL THEN "
          f"{c.reason.replace('{x}', role + '_text') if c.reason else sql_str(role + ' is not a date')} END"
          for role, c in times.items()],
        f"CASE WHEN {start} > $now THEN printf('{start} %s is after the import''s time', {start}) END",
    ]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ls_rows AS
        SELECT *, reason IS NOT NULL AS __bad, reason AS __reason FROM (
            SELECT *, NULLIF(concat_ws('; ', {', '.join(checks)}), '') AS reason FROM (
                SELECT *, CASE property {mapped} END AS column_name,
                       CASE property {' '.join(typed) or 'WHEN NULL THEN NULL'} END AS typed_value,
                       CASE property {' '.join(reasons) or 'WHEN NULL THEN NULL'} END AS typed_reason
                FROM __ls_hist) r)""", {"now": now})
    if interval:
        _reject_overlaps(con, now)
    bad = scalar(con, "SELECT count(*) FROM __ls_rows WHERE __bad")
    rejected = collect_rejects(con, source, "__ls_rows", bad)
    if strict and rejected:
        line, reason = first_reject(con)
        raise ImportError_(f"{source.path.name}: line {line}: {reason} (strict mode: nothing was imported; "
                           f"{rejected} bad row(s) in all)")
    _stage(con, interval, now, level)
    recorded = record_changes(con, source=f"history:{source.path.name}", run_id=import_id, now=now,
                              current_written=False, level=level)
    return HistoryImportResult(source.path, "interval" if interval else "long", level.table,
                               source.rows + source.malformed,
                               recorded.recorded, recorded.unchanged, rejected, None, recorded.contacts_updated,
                               added, 0.0, import_id)


def _typed(c: Coercion) -> str:
    """A coercion's typed value over its cleaned source value."""
    return c.value.replace("{x}", f"({c.clean})")


#: A period starting this soon after another's end follows it: Fivetran's ``_fivetran_end`` is
#: the next start minus 1 ms (inclusive), some exports' the next start minus 1 s; dbt's equals it.
CONTIGUOUS = "INTERVAL 1 SECOND"
#: Two good periods of one contact's property, ``r`` ending and ``n`` starting after ``r`` did.
_LATER = ("n.contact_id = r.contact_id AND n.column_name = r.column_name AND NOT n.__bad "
          "AND n.valid_from IS NOT NULL AND (r.valid_from IS NULL OR n.valid_from > r.valid_from)")


def _reject_overlaps(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Periods of one property that overlap (one starts before the other's end): which value held
    then is unknown, so both rows are rejected, each naming the other, rather than one cut."""
    con.execute(f"""UPDATE __ls_rows AS x SET __bad = true, __reason = o.reason FROM (
        SELECT __row, string_agg(reason, '; ') AS reason FROM (
            SELECT r.__row, printf('the period from %s to %s overlaps the one from %s (value %s)',
                                   r.valid_from, r.valid_to, n.valid_from, coalesce(n.value, 'empty')) AS reason
            FROM __ls_rows r JOIN __ls_rows n ON {_LATER}
            WHERE NOT r.__bad AND r.valid_to <= $now AND n.valid_from < r.valid_to
            UNION ALL
            SELECT n.__row, printf('the period from %s overlaps the one from %s to %s (value %s)',
                                   n.valid_from, r.valid_from, r.valid_to, coalesce(r.value, 'empty'))
            FROM __ls_rows r JOIN __ls_rows n ON {_LATER}
            WHERE NOT r.__bad AND r.valid_to <= $now AND n.valid_from < r.valid_to)
        GROUP BY __row) o WHERE x.__row = o.__row""", {"now": now})


def _stage(con: duckdb.DuckDBPyConnection, interval: bool, now: datetime, level: Level) -> None:
    """The good rows as staged changes: a change per row (assumed when undated), plus, for
    periods, an end (to empty) at each ``valid_to`` that no later period of that property
    follows (starting at it, or within ``CONTIGUOUS`` after an inclusive end)."""
    stage = stage_table(con, level)  # its key column is filled from the rows' `contact_id` (the key)
    start = "valid_from" if interval else "changed_at"
    con.execute(f"""INSERT INTO {stage}
        SELECT contact_id, column_name, CASE WHEN {start} IS NULL THEN NULL ELSE typed_value END, {start},
               CASE WHEN {start} IS NULL THEN typed_value END, {start} IS NULL, __row
        FROM __ls_rows WHERE NOT __bad""")
    if interval:
        con.execute(f"""INSERT INTO {stage}
            SELECT r.contact_id, r.column_name, NULL, r.valid_to, NULL, false, r.__row
            FROM __ls_rows r WHERE NOT r.__bad AND r.valid_to IS NOT NULL AND r.valid_to <= $now
              AND NOT EXISTS (SELECT 1 FROM __ls_rows n WHERE {_LATER}
                              AND n.valid_from <= r.valid_to + {CONTIGUOUS})""",
                    {"now": now})


def _add_columns(con: duckdb.DuckDBPyConnection, new: dict[str, str], columns: dict[str, str],
                 date_format: str, level: Level) -> list[str]:
    """New contacts (companies) columns for properties the store has no column for, typed from their values."""
    added: list[str] = []
    for name, column in new.items():
        if column in added or column in columns or not column:
            continue
        relation = f"(SELECT value FROM __ls_hist WHERE property = {sql_str(name)})"
        profile = infer_text_columns(con, relation, {"value": "value"})["value"]
        dtype, _order = profile.inferred_type()
        con.execute(f"ALTER TABLE {level.table} ADD COLUMN {sql_name(column)} {dtype}")
        added.append(column)
    return added
