"""``import_file``: one file into contacts, events or deals, in one transaction, with a rejects file.

The steps, each a few DuckDB statements over the whole file (no Python loop per row):

1. read: stage the file into temp tables (readers.py); rows DuckDB cannot split become malformed
   rejects. This only reads, so it happens before the transaction: a failed statement aborts a
   DuckDB transaction, and reading sometimes takes a second attempt (Latin-1, line endings);
2. plan: map source columns to destination columns (mapping.py);
3. type: choose each destination's type: the table's, or for a new custom column one inferred
   from a sample and checked against every row (coerce.py);
4. check: build the typed rows with a reason per bad row (writers.prepare_rows); dates like
   03/04/2024 in an existing timestamp column make the data decide that column's day/month order
   and the rows are checked again; with ``strict=True`` the first bad row, by line, stops the
   import here;
5. write: add custom columns, upsert or insert (writers.py), write the rejects file, and record the
   import in ``imports``.

Steps 2-5 run inside ``store.transaction()``, so a failure or a kill at any point leaves the store
as it was: DuckDB discards an uncommitted transaction when the store is next opened (see the
SIGKILL test in tests/ingest/test_ingest_transactions.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb

from leadscore.errors import ImportError_
from leadscore.ingest.coerce import (
    Coercion,
    clean_text,
    coerce,
    enum_coercion,
    infer_text_columns,
    inferred_type_of_typed,
    profile_text_columns,
    timestamp_value,
)
from leadscore.ingest.companies import prepare_company_rows, unknown_companies
from leadscore.ingest.mapping import (
    KINDS,
    STATUS_VALUES,
    ColumnMapping,
    PlannedColumn,
    find_column,
    plan_columns,
)
from leadscore.ingest.progress import ProgressCallback, ProgressTracker
from leadscore.ingest.property_changes import CHANGED_AT, HISTORY_KINDS, ChangeLog
from leadscore.ingest.readers import (
    Source,
    detect_format,
    first_row,
    open_source,
    release,
    scalar,
    sql_name,
    sql_str,
)
from leadscore.ingest.reimport import check_new_ids
from leadscore.ingest.rejects import collect_rejects, first_reject, rejects_path, write_rejects
from leadscore.ingest.topvalues import top_values
from leadscore.ingest.writers import (
    SPECS,
    EventStats,
    WriteCounts,
    event_stats,
    insert_events,
    prepare_rows,
    upsert,
)
from leadscore.storage.lead_rows import refresh_people
from leadscore.storage.lookup_index import drop_lookup_indexes
from leadscore.storage.store import Store
from leadscore.storage.types import type_kind
from leadscore.timeutil import utcnow

_TEMP = ["__ls_rows", "__ls_rejects", "__ls_emails"]


@dataclass
class ImportResult:
    """What one import did. ``duplicates`` are rows that changed nothing (already stored, repeated
    in the file, or identical to the stored row); ``unknown_contacts`` counts accepted events or
    deals whose contact is not (yet) in contacts, a warning rather than an error."""

    kind: str
    file: Path
    rows_read: int
    inserted: int
    updated: int
    duplicates: int
    rejected: int
    rejects_file: Path | None
    columns_added: list[str]
    seconds: float
    unknown_contacts: int = 0
    warnings: list[str] = field(default_factory=list)
    import_id: str = ""
    #: contact property changes recorded in the history (docs/model-reference.md, as of a date)
    changes: int = 0
    #: new text column → its most frequent values and their counts (spot placeholders like `Select`)
    top_values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def import_file(store: Store, kind: Literal["contacts", "events", "deals", "companies"], path: str | Path, *,
                mapping: ColumnMapping | None = None, strict: bool = False,
                rejects_dir: Path | None = None, progress: ProgressCallback | None = None,
                file_format: str | None = None, allow_new_ids: bool = False) -> ImportResult:
    """Import one CSV / Parquet / JSON-lines file; see the module docstring.

    A contacts file whose rows are mostly new by id but already stored by e-mail or by another
    column's ids is refused before anything is written, unless ``allow_new_ids`` (ingest/reimport.py).

    ``rejects_dir`` defaults to ``rejects/`` next to the store (the workspace default), or next to
    the input file for an in-memory store. ``progress(done, total)`` is called from a helper
    thread (see progress.py).

    >>> result = import_file(store, "contacts", "hubspot.csv")       # doctest: +SKIP
    >>> result.inserted, result.rejected, result.rejects_file        # doctest: +SKIP
    (9998, 2, PosixPath('rejects/contacts-hubspot-20250101T093000.csv'))
    """
    if kind not in KINDS:
        raise ImportError_(f"unknown kind {kind!r}: import contacts, events, deals or companies")
    file = Path(path)
    mapping = mapping or ColumnMapping()
    fmt = detect_format(file, file_format)
    if not file.is_file():
        raise ImportError_(f"no such file: {file}")
    started, clock = utcnow(), time.perf_counter()
    con = store.con
    tracker = ProgressTracker(con, progress, file.stat().st_size)
    source: Source | None = None
    with _session(con), tracker:
        try:
            # Staging only reads the file into temp tables, so it runs before the transaction:
            # a statement that fails inside a DuckDB transaction aborts it, and reading sometimes
            # needs a second attempt (another encoding, unified line endings).
            with tracker.step(0.0, 0.35 if fmt != "parquet" else 0.02):
                source = open_source(con, file, fmt, mapping)
            with store.transaction():
                if kind != "deals":  # the server's lookup indexes may cost a bulk insert up to ~2.7x its CPU;
                    drop_lookup_indexes(con)  # its next start builds them again (storage/lookup_index.py)
                result = _run(store, kind, source, mapping, strict, tracker, started, allow_new_ids)
                if kind == "contacts" and result.updated:  # owners, names, ids the leads list shows
                    refresh_people(con)
                if result.rejected:
                    target = rejects_path(_rejects_dir(store, file, rejects_dir), kind, file, started)
                    result.rejects_file = write_rejects(con, source, target)
                con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [result.import_id, kind, str(file.resolve()), started, result.inserted,
                             result.updated, result.duplicates, result.rejected])
        except duckdb.InterruptException:
            tracker.check()  # a progress callback raised: that is the error to report
            raise
        finally:
            _cleanup(con, source)
    result.seconds = time.perf_counter() - clock
    return result


def _cleanup(con: duckdb.DuckDBPyConnection, source: Source | None) -> None:
    """Drop the temp tables; inside a caller's failed transaction they go with it anyway."""
    release(con, source, _TEMP)


def _run(store: Store, kind: str, source: Source, mapping: ColumnMapping, strict: bool,
         tracker: ProgressTracker, started: datetime, allow_new_ids: bool = False) -> ImportResult:
    con = store.con
    import_id = uuid.uuid4().hex
    if mapping.changed_at and kind not in HISTORY_KINDS:
        raise ImportError_(f"the mapping's changed_at dates contact and company property changes; {kind} have "
                           "their own times (occurred_at, closed_at)")
    weights = (0.35, 0.45, 0.6) if source.format != "parquet" else (0.02, 0.1, 0.2)
    plan, warnings = plan_columns([c.name for c in source.columns], kind, mapping)
    warnings = source.warnings + warnings
    _check_required(kind, plan, mapping, source)
    table_types = store.column_types(SPECS[kind].table)
    with tracker.step(weights[0], weights[1]):
        targets, new_columns, more = _decide_types(con, source, plan, table_types, mapping, kind)
        tops = top_values(con, source.relation, {t.dest: _as_text(t.coercion()) for t in targets
                                                 if new_columns.get(t.dest) == "VARCHAR"})
    warnings += more
    with tracker.step(weights[1], weights[2]):
        columns, stats, bad = _check_rows(con, kind, source, targets)
        if bad and _settle_day_month(con, source, targets, warnings):
            columns, stats, bad = _check_rows(con, kind, source, targets)
        rejected = collect_rejects(con, source, "__ls_rows", bad)
    if kind == "contacts" and not allow_new_ids:
        id_source = next((p.source for p in plan if p.dest == "contact_id"), None)
        check_new_ids(con, source, id_source, has_email=any(p.dest == "email" for p in plan))
    if strict and rejected:
        line, reason = first_reject(con)
        where = "row" if source.format == "parquet" else "line"
        raise ImportError_(f"{source.path.name}: {where} {line}: {reason} (strict mode: nothing "
                           f"was imported; {rejected} bad row(s) in all)")
    with tracker.step(weights[2], 1.0):
        for name, dtype in new_columns.items():
            con.execute(f"ALTER TABLE {SPECS[kind].table} ADD COLUMN {sql_name(name)} {dtype}")
        if "company_id" in columns and kind in ("contacts", "deals"):
            unknown = unknown_companies(con)
            if unknown:
                warnings.append(f"{unknown:,} rows name a company not imported yet (`leadscore import companies`)")
        log = ChangeLog(f"import:{source.path.name}", import_id, started, bool(mapping.changed_at))
        counts: WriteCounts = (insert_events(con, columns, stats) if stats
                               else upsert(con, kind, columns, log if kind in HISTORY_KINDS else None))
    good = source.rows - (rejected - source.malformed)
    if counts.inserted + counts.updated + counts.duplicates != good:
        raise AssertionError(f"import bookkeeping is off: {counts} for {good} good rows")
    return ImportResult(kind, source.path, source.rows + source.malformed, counts.inserted,
                        counts.updated, counts.duplicates, rejected, None, list(new_columns), 0.0,
                        counts.unknown_contacts, warnings, import_id, counts.changes, tops)


def _check_required(kind: str, plan: list[PlannedColumn], mapping: ColumnMapping,
                    source: Source) -> None:
    """Columns without which no row could be imported: fail before reading further."""
    have = {p.dest for p in plan} | set(mapping.constants)
    names = ", ".join(c.name for c in source.columns) or "none"
    if kind == "companies":
        if "company_id" not in have:
            raise ImportError_(f"{source.path.name}: companies need a company id column (columns found: "
                               f"{names}); name it with --id-column / --column SOURCE=company_id or a mapping file")
        return
    if not have & {"contact_id", "email"}:
        raise ImportError_(f"{source.path.name}: {kind} need a contact id column or an email column "
                           f"to know whose they are (columns found: {names}); name it with "
                           "--id-column / --column SOURCE=contact_id or a mapping file")
    for col in SPECS[kind].required:
        if col not in have and col not in (SPECS[kind].key, "contact_id"):
            hint = " or constants: {status: won} in the mapping" if col == "status" else ""
            raise ImportError_(f"{source.path.name}: {kind} need a `{col}` column (columns found: "
                               f"{names}); map one with --column SOURCE={col}{hint}")


@dataclass
class _Target:
    """One destination column: where its values come from and how they become its type."""

    dest: str
    ref: str  # SQL reading the source value
    source_type: str
    target: str  # DuckDB type of the destination column
    order: str = "iso"  # day/month order of text dates
    values: dict[str, str | None] | None = None
    status: bool = False  # a deal's status: matched against stage names
    undecided: bool = False  # an existing timestamp column whose day/month order is not yet known
    trim: bool = True
    never_empty: bool = False  # the file's statistics prove a value on every row (Parquet)

    def coercion(self) -> Coercion:
        if self.status:
            return enum_coercion(self.dest, self.ref, dict(STATUS_VALUES), self.values,
                                 "expected won, lost or open; map it under values: status")
        found = coerce(self.dest, self.ref, self.source_type, self.target, date_format=self.order,
                       values=self.values, trim=self.trim, never_empty=self.never_empty)
        if self.dest == CHANGED_AT and found.reason:  # name it as the mapping does
            return replace(found, reason=found.reason.replace(sql_str(CHANGED_AT), sql_str("changed_at")))
        return found


def _as_text(coercion: Coercion) -> str:
    """The SQL of a text column's stored value, read from the source relation."""
    return coercion.value.replace("{x}", f"({coercion.clean})")


def _decide_types(con: duckdb.DuckDBPyConnection, source: Source, plan: list[PlannedColumn],
                  table_types: dict[str, str], mapping: ColumnMapping,
                  kind: str) -> tuple[list[_Target], dict[str, str], list[str]]:
    """Each destination's type; new columns with their inferred type; warnings.

    New text columns are profiled here (their type depends on all their values). The day/month
    order of existing timestamp columns is left undecided: it only matters if some value is not
    ISO, which the check of the rows will show (see :func:`_settle_day_month`).
    """
    by_name = {c.name: c for c in source.columns}
    name_of = {c.ref: c.name for c in source.columns}
    items = [(p.dest, by_name[p.source].ref, by_name[p.source].type) for p in plan]
    items += [(dest, sql_str(value), "VARCHAR") for dest, value in mapping.constants.items()]
    if mapping.changed_at:  # the row's change time: typed like a timestamp column, never stored
        column = by_name[find_column([c.name for c in source.columns], mapping.changed_at, "changed_at")]
        items.append((CHANGED_AT, column.ref, column.type))
        table_types = {**table_types, CHANGED_AT: "TIMESTAMP"}
    forced = mapping.date_format if mapping.date_format not in (None, "auto") else None
    lookup_only = SPECS[kind].lookup_only
    trim = source.format != "parquet"
    new_text = {ref: clean_text(ref, mapping.value_map(dest), trim=trim) for dest, ref, typ in items
                if type_kind(typ) == "string" and dest not in lookup_only and dest not in table_types}
    profiles = infer_text_columns(con, source.relation, new_text)
    targets: list[_Target] = []
    new_columns: dict[str, str] = {}
    warnings: list[str] = []
    for dest, ref, typ in items:
        target = _Target(dest, ref, typ, "VARCHAR", forced or "iso",
                         mapping.value_map(dest, text=type_kind(typ) == "string"),
                         trim=trim, never_empty=name_of.get(ref) in source.never_empty)
        if kind == "deals" and dest == "status":
            target.status = True
        elif dest in table_types and dest not in lookup_only:
            target.target = table_types[dest]
            target.undecided = (type_kind(typ) == "string" and not forced
                                and type_kind(target.target) == "timestamp")
        elif dest in lookup_only:
            pass
        elif type_kind(typ) != "string":
            target.target = new_columns[dest] = inferred_type_of_typed(typ)
        else:
            profile = profiles[ref]
            target.target, order = profile.inferred_type()
            if target.target == "VARCHAR" and forced and profile.nonempty and _all_dates(
                    con, source.relation, new_text[ref], forced):
                target.target = "TIMESTAMP"  # the mapping's date_format reads every value
            target.order = forced or order
            new_columns[dest] = target.target
            if target.target == "VARCHAR" and profile.day_month and profile.date_order() is None:
                warnings.append(f"new column `{dest}` kept as text: its dates could be day/month "
                                "or month/day (set date_format to import it as timestamps)")
        targets.append(target)
    return targets, new_columns, warnings


def _all_dates(con: duckdb.DuckDBPyConnection, relation: str, cleaned: str, date_format: str) -> bool:
    """Whether ``date_format`` (dmy, mdy or a strptime pattern) reads every non-empty value."""
    value = timestamp_value(cleaned, date_format)
    return scalar(con, f"SELECT count(*) FILTER ({cleaned} IS NOT NULL AND {value} IS NULL) "
                       f"FROM {relation}") == 0


def _check_rows(con: duckdb.DuckDBPyConnection, kind: str, source: Source,
                targets: list[_Target]) -> tuple[list[str], EventStats | None, int]:
    """Build ``__ls_rows``; returns its stored columns, the event counts, and the bad rows."""
    coercions = [t.coercion() for t in targets]
    proven = _proven_events(kind, source, targets, coercions)
    if kind == "companies":
        columns = prepare_company_rows(con, _typed_sql(source, coercions), [c.dest for c in coercions])
    else:
        columns = prepare_rows(con, kind, _typed_sql(source, coercions), [c.dest for c in coercions],
                               proven=proven)
    stats = event_stats(con, proven=proven) if kind == "events" else None
    bad = stats.bad if stats else scalar(
        con, "SELECT count(*) FROM __ls_rows WHERE __bad")
    return columns, stats, bad


def _proven_events(kind: str, source: Source, targets: list[_Target],
                   coercions: list[Coercion]) -> bool:
    """Whether every event row is good before reading a single one: the Parquet file's statistics
    show that event_id, contact_id, type and occurred_at each come straight from a column with a
    value on every row, and no column's values can fail their type (same type on both sides).

    Then no row needs its verdict computed, its generated id or its contact resolved, which on a
    large file is about a fifth of the import (measured by ``leadscore bench import``).
    """
    if kind != "events" or not source.never_empty:
        return False
    name_of = {c.ref: c.name for c in source.columns}
    by_dest = {t.dest: t for t in targets}
    for dest in SPECS[kind].required:
        target = by_dest.get(dest)
        if target is None or name_of.get(target.ref) not in source.never_empty:
            return False
    return all(c.reason is None for c in coercions)


def _settle_day_month(con: duckdb.DuckDBPyConnection, source: Source, targets: list[_Target],
                      warnings: list[str]) -> bool:
    """Some rows were rejected: if dates like 03/04/2024 are why, let the data decide their
    columns' order. Returns whether any column changed (the rows must then be checked again)."""
    undecided = [t for t in targets if t.undecided]
    if not undecided or not scalar(con, "SELECT count(*) FROM __ls_rows WHERE __bad AND "
                                        "contains(__reason, 'ambiguous day/month order')"):
        return False
    profiles = profile_text_columns(
        con, source.relation, {t.ref: clean_text(t.ref, t.values, trim=t.trim) for t in undecided},
        {t.ref: {"order"} for t in undecided})
    changed = False
    for target in undecided:
        target.undecided = False
        profile = profiles[target.ref]
        order = profile.date_order()
        if order is None:
            warnings.append(f"column `{target.dest}`: dates like 01/02/2024 could be day/month or "
                            "month/day; only ISO dates were taken (set date_format)")
        elif order != target.order:
            target.order, changed = order, True
    return changed


def _typed_sql(source: Source, coercions: list[Coercion]) -> str:
    """Three stacked projections: clean text, typed value, then the verdict (each value parsed
    once). ``__bad`` says whether a row is rejected, ``__reason`` why: the strings of the reason
    are only built where a query reads them (DuckDB drops unread columns of a view), which is
    for the rejected rows alone."""
    if not coercions:
        return f"SELECT __row, false AS __bad, NULL::VARCHAR AS __reason FROM {source.relation}"
    clean = ", ".join(f"{c.clean} AS __x{i}" for i, c in enumerate(coercions))
    typed = ", ".join(f"__x{i}, {c.value.replace('{x}', f'__x{i}')} AS __v{i}"
                      for i, c in enumerate(coercions))
    failed = {i: f"(__x{i} IS NOT NULL AND __v{i} IS NULL)" for i, c in enumerate(coercions) if c.reason}
    reasons = [f"CASE WHEN {failed[i]} THEN {c.reason.replace('{x}', f'__x{i}')} END"
               for i, c in enumerate(coercions) if c.reason]
    bad = " OR ".join(failed.values()) or "false"
    reason = f"NULLIF(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "NULL::VARCHAR"
    out = ", ".join(f"__v{i} AS {sql_name(c.dest)}" for i, c in enumerate(coercions))
    return (f"SELECT __row, {out}, {bad} AS __bad, {reason} AS __reason FROM (SELECT __row, {typed} "
            f"FROM (SELECT __row, {clean} FROM {source.relation}))")


def _rejects_dir(store: Store, file: Path, rejects_dir: Path | None) -> Path:
    if rejects_dir is not None:
        return Path(rejects_dir)
    if store.path and store.path != ":memory:":
        return Path(store.path).resolve().parent / "rejects"
    return file.resolve().parent


@contextmanager
def _session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Settings the import relies on, restored afterwards: file order is row order, and DuckDB
    draws no progress bar of its own on the terminal (the CLI draws one from ``progress``)."""
    wanted = {"preserve_insertion_order": "true", "enable_progress_bar_print": "false"}
    saved = {name: str(first_row(con, f"SELECT current_setting('{name}')")[0]).lower()
             for name in wanted}
    for name, value in wanted.items():
        if saved[name] != value:
            con.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value != wanted[name]:
                con.execute(f"SET {name} = {value}")
