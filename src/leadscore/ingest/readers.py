"""Turn a CSV, Parquet or JSON-lines file into a relation DuckDB can query, plus the rows it could not.

The result is a :class:`Source`: a SQL relation with a ``__row`` ordinal column and one column per
source field (VARCHAR for text formats, the stored type for Parquet), the rows DuckDB could not
split (in the temp table ``__ls_malformed``, with line numbers and reasons), and a :class:`LineMap`
that turns ordinals into the line numbers users see.

Text formats are staged into a temp table (all VARCHAR, names ``c0..cN`` so no header can break the
SQL); the temp table's ``rowid`` is the ordinal, which costs nothing, whereas ``row_number()`` over a
parallel CSV scan costs about as much as the scan. Parquet is queried in place: its
``file_row_number`` is the ordinal and reading it twice is cheaper than copying it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from leadscore.errors import ImportError_, first_line
from leadscore.ingest.lines import LineMap, lines_at_offsets
from leadscore.ingest.mapping import ColumnMapping
from leadscore.ingest.quotes import MAX_ROUNDS, RunawayQuote, blanked_copy, runaway_records
from leadscore.ingest.sniff import (
    detect_encoding,
    header_names,
    mostly_latin1,
    sniff_delimiter,
    text_sample,
)

EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
              ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
FORMATS = ("csv", "parquet", "jsonl")
_JSON_DELIM = "\x1f"  # cannot occur unescaped in valid JSON: each line becomes one field


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_name(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The first row of a query, read to the end: a half-read result blocks ``register``."""
    rows = con.execute(sql).fetchall()
    return tuple(rows[0]) if rows else ()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """An integer query result (0 for NULL or no row)."""
    row = first_row(con, sql)
    return int(row[0] or 0) if row else 0


@dataclass(frozen=True)
class SourceColumn:
    name: str  # the header as written in the file
    ref: str  # SQL expression reading it from Source.relation
    type: str  # DuckDB type of the raw values


@dataclass
class Source:
    """One input file, readable with SQL."""

    path: Path
    format: str
    relation: str  # FROM-able SQL; has __row (0-based ordinal) and the columns' refs
    columns: list[SourceColumn]
    rows: int  # rows in relation
    malformed: int  # rows in __ls_malformed
    line_map: LineMap
    encoding: str | None = None
    delimiter: str | None = None
    temp_tables: list[str] = field(default_factory=list)
    scratch: list[Path] = field(default_factory=list)  # temporary files to delete afterwards
    never_empty: frozenset[str] = frozenset()  # columns proven non-NULL, non-'' (Parquet stats)
    warnings: list[str] = field(default_factory=list)  # what the import summary should say about reading

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None:
        for file in self.scratch:
            file.unlink(missing_ok=True)
        drop_temp(con, self.temp_tables)


def detect_format(path: Path, file_format: str | None) -> str:
    if file_format:
        fmt = {"ndjson": "jsonl", "json": "jsonl", "tsv": "csv", "pq": "parquet"}.get(
            file_format.lower(), file_format.lower())
        if fmt not in FORMATS:
            raise ImportError_(f"unknown file format {file_format!r}: use csv, parquet or jsonl")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ImportError_(f"cannot tell the format of {path.name} from its extension; pass the "
                           "format (csv, parquet or jsonl)")
    return found


def open_source(con: duckdb.DuckDBPyConnection, path: Path, fmt: str,
                mapping: ColumnMapping) -> Source:
    """Stage or describe ``path`` so the importer can query it; see the module docstring."""
    if not path.is_file():
        raise ImportError_(f"no such file: {path}")
    if fmt == "parquet":
        return _parquet(con, path)
    encoding = mapping.encoding or detect_encoding(path)
    if path.stat().st_size == 0:
        raise ImportError_(f"{path.name} is empty")
    source = _csv(con, path, mapping, encoding) if fmt == "csv" else _jsonl(con, path, encoding)
    if not mapping.encoding and encoding == "utf-8" and _has_encoding_rejects(con) \
            and mostly_latin1(path):
        source.cleanup(con)
        source = _csv(con, path, mapping, "latin-1") if fmt == "csv" else _jsonl(con, path, "latin-1")
    return source


def drop_temp(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Drop the importer's temp tables and views that exist (DROP TABLE fails on a view)."""
    wanted = ", ".join(sql_str(n) for n in names)
    found = con.execute(
        f"SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND view_name IN ({wanted}) "
        f"UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary "
        f"AND table_name IN ({wanted})").fetchall()
    for name, kind in found:
        con.execute(f"DROP {kind} {sql_name(name)}")


def release(con: duckdb.DuckDBPyConnection, source: Source | None, temp: list[str]) -> None:
    """Drop an import's temp tables and its source's; inside a caller's failed transaction they go
    with it anyway (DuckDB refuses statements there)."""
    try:
        drop_temp(con, temp)
        if source is not None:
            source.cleanup(con)
    except duckdb.TransactionException:
        pass


def _has_encoding_rejects(con: duckdb.DuckDBPyConnection) -> bool:
    return scalar(con, "SELECT count(*) FROM __ls_rej WHERE error_type ILIKE '%ENCODING%' "
                       "OR error_type ILIKE '%UNICODE%'") > 0


def _read_options(path: Path, encoding: str) -> str:
    return (f"{sql_str(str(path))}, auto_detect=false, encoding={sql_str(encoding)}, "
            "store_rejects=true, rejects_table='__ls_rej', rejects_scan='__ls_rejscan', "
            "rejects_limit=0")


def _row_offset(con: duckdb.DuckDBPyConnection, table: str) -> int:
    # Inside a transaction DuckDB numbers new rows from 2**55; the first row is ordinal 0 either way.
    return scalar(con, f"SELECT min(rowid) FROM {table}")


def _csv(con: duckdb.DuckDBPyConnection, path: Path, mapping: ColumnMapping,
         encoding: str) -> Source:
    drop_temp(con, ["__ls_src", "__ls_rej", "__ls_rejscan", "__ls_malformed"])
    data, made = path, []
    if encoding.lower().replace("_", "-") in _LATIN_1 and (utf8 := _windows_1252_copy(path)) is not None:
        data, encoding, made = utf8, "utf-8", [utf8]  # € and “ ” from Excel: read the UTF-8 copy
    sample = text_sample(data, encoding)
    delimiter = mapping.delimiter or sniff_delimiter(sample)
    names = header_names(sample, delimiter)
    if not names:
        raise ImportError_(f"{path.name} has no header line")
    refs = [f"c{i}" for i in range(len(names))]
    try:
        read_path, scratch = _stage_robustly(
            con, data, lambda target: _stage_csv(con, target, encoding, delimiter, refs), "CSV",
            name=path.name)
    except ImportError_:
        for file in made:
            file.unlink(missing_ok=True)
        raise
    scratch = made + scratch
    read_path, runaways = _reread_runaway_quotes(con, read_path, encoding, delimiter, refs, scratch)
    offset = _row_offset(con, "__ls_src")
    # rows without any value (blank lines, ",,,") are not rows; COALESCE is far cheaper than trims
    relation = (f"(SELECT rowid - {offset} AS __row, * FROM __ls_src "
                f"WHERE COALESCE({', '.join(refs)}) IS NOT NULL)")
    rejected = _malformed_from_rejects(con, read_path, refs, delimiter, encoding, runaways)
    if not rejected and scalar(con, "SELECT count(*) FROM __ls_src") == 0 and \
            sum(1 for line in sample.splitlines()[:3] if line.strip()) > 1:
        # DuckDB gave up on the header (a quote in the middle of a name) and read nothing at all
        raise ImportError_(f"{path.name}: no row could be read after the header line, though the file "
                           "has more lines; check the header for a stray quote (like `\"a\"b`)")

    def has_multiline() -> bool:
        test = " OR ".join(f"contains({r}, chr(10)) OR contains({r}, chr(13))" for r in refs)
        return scalar(con, f"SELECT count(*) FILTER ({test}) FROM __ls_src") > 0

    line_map = LineMap("text", read_path, 2, rejected, blanks_are_rows=len(refs) == 1,
                       has_multiline=has_multiline, delimiter=delimiter, encoding=encoding)
    return Source(path, "csv", relation,
                  [SourceColumn(n, r, "VARCHAR") for n, r in zip(names, refs, strict=True)],
                  scalar(con, f"SELECT count(*) FROM {relation}"), len(rejected) + len(runaways), line_map,
                  encoding, delimiter,
                  ["__ls_src", "__ls_rej", "__ls_rejscan", "__ls_malformed"], scratch,
                  warnings=[f"line {r.line}: a quoted value opened there is not closed on its line and swallowed "
                            f"{r.absorbed} more line(s); line {r.line} was rejected, the lines after it imported "
                            "as rows of their own" for r in runaways[:5]]
                  + ([f"... and {len(runaways) - 5} more such lines"] if len(runaways) > 5 else []))


def _reread_runaway_quotes(con: duckdb.DuckDBPyConnection, path: Path, encoding: str, delimiter: str,
                           refs: list[str], scratch: list[Path]) -> tuple[Path, list[RunawayQuote]]:
    """Stage again without the first lines of rejected records that swallowed lines (ingest/quotes.py)."""
    runaways: list[RunawayQuote] = []
    for _ in range(MAX_ROUNDS):
        found = runaway_records(con, path)
        if not found:
            break
        runaways += found
        copy = blanked_copy(path, {r.line for r in runaways})
        scratch.append(copy)
        drop_temp(con, ["__ls_src", "__ls_rej", "__ls_rejscan"])
        path, more = _stage_robustly(con, copy, lambda target: _stage_csv(con, target, encoding, delimiter, refs),
                                     "CSV")
        scratch += more
    return path, runaways


def _stage_robustly(con: duckdb.DuckDBPyConnection, path: Path, stage: Callable[[Path], None],
                    what: str, *, name: str | None = None) -> tuple[Path, list[Path]]:
    """Stage ``path``; returns the file actually read and the temporary files made for it.

    DuckDB's strict parser gives up on a whole file with mixed line endings (\\n and \\r\\n); its
    lenient mode would silently cut rows with too many fields instead. So on that error a copy
    with \\r\\n made \\n is read: it has as many lines, so the same line numbers.
    """
    try:
        stage(path)
        return path, []
    except duckdb.InvalidInputException:
        copy = _unified_newlines(path)
        drop_temp(con, ["__ls_src", "__ls_lines", "__ls_rej", "__ls_rejscan"])
        try:
            stage(copy)
        except duckdb.Error as exc:
            copy.unlink(missing_ok=True)
            raise ImportError_(f"cannot read {name or path.name} as {what}: "
                               f"{first_line(exc)}") from exc
        return copy, [copy]
    except duckdb.Error as exc:
        raise ImportError_(f"cannot read {name or path.name} as {what}: {first_line(exc)}") from exc


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, encoding: str, delimiter: str,
               refs: list[str]) -> None:
    columns = "{" + ", ".join(f"'{r}': 'VARCHAR'" for r in refs) + "}"
    con.execute(
        f"CREATE TEMP TABLE __ls_src AS SELECT * FROM read_csv({_read_options(path, encoding)}, "
        f"header=true, delim={sql_str(delimiter)}, quote='\"', escape='\"', columns={columns})")


_LATIN_1 = ("latin-1", "latin1", "iso-8859-1", "iso8859-1", "cp1252", "windows-1252")
#: Bytes Windows-1252 gives printable characters (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ)
#: where ISO Latin-1 has control codes; DuckDB's latin-1 reader refuses the whole file for one.
_CP1252_ONLY = re.compile(rb"[\x80-\x9f]")


def _windows_1252_copy(path: Path) -> Path | None:
    """A temporary UTF-8 copy of a "Latin-1" file that holds Windows-1252 characters, else None.

    What Excel on Windows saves as CSV is Windows-1252: Latin-1 plus € and typographic quotes in
    0x80-0x9F. Each byte is one character either way, so the copy has the same lines; the five
    bytes Windows-1252 leaves undefined are read as Latin-1's control codes.
    """
    with open(path, "rb") as src:
        if not any(_CP1252_ONLY.search(chunk) for chunk in iter(lambda: src.read(8 << 20), b"")):
            return None
    handle, name = tempfile.mkstemp(prefix="leadscore-import-", suffix=".csv")
    with open(handle, "wb") as out, open(path, "rb") as src:
        while chunk := src.read(8 << 20):
            out.write(chunk.decode("cp1252", errors="latin1_fallback").encode("utf-8"))
    return Path(name)


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("latin1_fallback", _latin1_fallback)


def _unified_newlines(path: Path) -> Path:
    """A temporary copy of ``path`` with every \\r\\n turned into \\n (streamed)."""
    handle, name = tempfile.mkstemp(prefix="leadscore-import-", suffix=".csv")
    with open(handle, "wb") as out, open(path, "rb") as src:
        carry = b""
        while chunk := src.read(8 << 20):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            out.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        out.write(carry)
    return Path(name)


_REASONS = {
    "MISSING COLUMNS": "malformed row: too few fields",
    "TOO MANY COLUMNS": "malformed row: too many fields",
    "UNQUOTED VALUE": "malformed row: badly quoted value",
    "INVALID ENCODING": "malformed row: bytes that are not valid text in the file's encoding",
    "INVALID UNICODE": "malformed row: bytes that are not valid text in the file's encoding",
    "LINE SIZE OVER MAXIMUM": "malformed row: line too long",
}


def _malformed_from_rejects(con: duckdb.DuckDBPyConnection, path: Path, refs: list[str],
                            delimiter: str, encoding: str, runaways: list[RunawayQuote]) -> list[int]:
    """Move DuckDB's rejected records and the runaway quotes' first lines into ``__ls_malformed``;
    returns the rejected records' record lines (the runaways' lines are blank in ``path`` by now)."""
    rows = con.execute(
        "SELECT line, arg_min(line_byte_position, error_type), arg_min(error_type, error_type), "
        "arg_min(error_message, error_type), arg_min(csv_line, error_type) "
        "FROM __ls_rej GROUP BY line ORDER BY line").fetchall()
    offsets, reasons, values = [], [], []
    for _line, position, error_type, message, text in rows:
        text = text or ""
        lead = len(text) - len(text.lstrip("\r\n"))  # DuckDB may include the previous newline
        offsets.append(max(int(position or 1) - 1, 0) + lead)
        reason = _REASONS.get(str(error_type), "malformed row")
        reasons.append(f"{reason} ({message})" if message else reason)
        values.append(_fields(text.lstrip("\r\n"), delimiter, len(refs)))
    lines = lines_at_offsets(path, offsets)
    for runaway in runaways:
        lines.append(runaway.line)
        reasons.append(runaway.reason)
        values.append(_fields(runaway.text, delimiter, len(refs)))
    _store_malformed(con, refs, lines, reasons, values)
    return [int(r[0]) for r in rows]


def _fields(text: str, delimiter: str, width: int) -> list[str | None]:
    """A rejected line's values as best split, in ``width`` columns (the rest joined into the last)."""
    fields: list[str | None] = list(next(csv.reader(io.StringIO(text), delimiter=delimiter), []))
    if len(fields) > width:
        fields = fields[:width - 1] + [delimiter.join(str(f) for f in fields[width - 1:])]
    return fields + [None] * (width - len(fields))


def _store_malformed(con: duckdb.DuckDBPyConnection, refs: list[str], lines: list[int],
                     reasons: list[str], values: list[list[str | None]]) -> None:
    arrays = {"__line": pa.array(lines, pa.int64()), "__reason": pa.array(reasons, pa.string())}
    for i, ref in enumerate(refs):
        arrays[ref] = pa.array([v[i] for v in values], pa.string())
    table = pa.table(arrays)
    con.complete()
    con.register("__ls_malformed_arrow", table)
    try:
        con.execute("CREATE TEMP TABLE __ls_malformed AS SELECT * FROM __ls_malformed_arrow")
    finally:
        con.unregister("__ls_malformed_arrow")


def _jsonl(con: duckdb.DuckDBPyConnection, path: Path, encoding: str) -> Source:
    drop_temp(con, ["__ls_lines", "__ls_src", "__ls_rej", "__ls_rejscan", "__ls_malformed"])

    def stage(target: Path) -> None:
        con.execute(
            f"CREATE TEMP TABLE __ls_lines AS SELECT * FROM read_csv("
            f"{_read_options(target, encoding)}, header=false, delim={sql_str(_JSON_DELIM)}, "
            "quote='', escape='', columns={'j': 'VARCHAR'})")

    read_path, scratch = _stage_robustly(con, path, stage, "JSON lines")
    offset = _row_offset(con, "__ls_lines")
    ok = "(CASE WHEN json_valid(j) THEN json_type(j) = 'OBJECT' ELSE false END)"
    keys = [r[0] for r in con.execute(
        f"SELECT k FROM (SELECT unnest(json_keys(j)) AS k, generate_subscripts(json_keys(j), 1) AS p, "
        f"rowid AS r FROM __ls_lines WHERE {ok}) GROUP BY k ORDER BY min(r), min(p)").fetchall()]
    refs = [f"c{i}" for i in range(len(keys))]
    paths = "[" + ", ".join(sql_str(_json_path(k)) for k in keys) + "]"
    values = (", ".join(f"v[{i + 1}] AS {r}" for i, r in enumerate(refs)) + ", ") if keys else ""
    extract = f"json_extract_string(j, {paths})" if keys else "NULL::VARCHAR[]"
    con.execute(
        f"CREATE TEMP TABLE __ls_src AS SELECT __row, __ok, j AS __raw, {values} true AS __keep "
        f"FROM (SELECT rowid - {offset} AS __row, {ok} AS __ok, j, "
        f"CASE WHEN {ok} THEN {extract} END AS v FROM __ls_lines)")
    con.execute("DROP TABLE __ls_lines")
    rejected = [int(r[0]) for r in con.execute("SELECT DISTINCT line FROM __ls_rej").fetchall()]
    line_map = LineMap("text", read_path, 1, rejected, blanks_are_rows=True)
    _json_malformed(con, line_map, refs)
    relation = "(SELECT * FROM __ls_src WHERE __ok)"
    count = scalar(con, "SELECT count(*) FROM __ls_malformed")
    return Source(path, "jsonl", relation,
                  [SourceColumn(k, r, "VARCHAR") for k, r in zip(keys, refs, strict=True)],
                  scalar(con, f"SELECT count(*) FROM {relation}"), count, line_map, encoding, None,
                  ["__ls_src", "__ls_rej", "__ls_rejscan", "__ls_malformed"], scratch)


def _json_path(key: str) -> str:
    # a plain key is looked up as is, unless it starts like a path itself
    if not key.startswith(("$", "/")):
        return key
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_malformed(con: duckdb.DuckDBPyConnection, line_map: LineMap, refs: list[str]) -> None:
    """Lines that are not JSON objects, plus lines DuckDB could not read, as malformed rows."""
    bad = con.execute("SELECT __row, __raw FROM __ls_src WHERE NOT __ok AND "
                      "NULLIF(trim(__raw), '') IS NOT NULL ORDER BY __row").fetchall()
    structural = con.execute("SELECT DISTINCT line, error_type FROM __ls_rej ORDER BY line").fetchall()
    lines = [int(x) for x in line_map.lines(np.asarray([r[0] for r in bad], dtype=np.int64))]
    reasons = [f"not a JSON object: {str(r[1])[:120]}" for r in bad]
    lines += [int(r[0]) for r in structural]
    reasons += [_REASONS.get(str(r[1]), "malformed line").replace("row", "line") for r in structural]
    _store_malformed(con, refs, lines, reasons, [[None] * len(refs) for _ in lines])


def _parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    read = f"read_parquet({sql_str(str(path))})"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()
        count = scalar(con, f"SELECT count(*) FROM {read}")
    except duckdb.Error as exc:
        raise ImportError_(f"cannot read {path.name} as Parquet: {exc}") from exc
    con.execute("DROP TABLE IF EXISTS __ls_malformed")
    con.execute("CREATE TEMP TABLE __ls_malformed (__line BIGINT, __reason VARCHAR)")
    if any(str(name).lower() == "file_row_number" for name, *_ in described):
        raise ImportError_(f"{path.name}: a column named `file_row_number` clashes with DuckDB's own "
                           "row number: rename it in the file")
    # read as c0, c1, ... like a CSV: a column named `__row` or `__bad` must not meet the importer's own
    columns = [SourceColumn(str(name), f"c{i}", str(dtype)) for i, (name, dtype, *_) in enumerate(described)]
    aliased = ", ".join(f"{sql_name(c.name)} AS {c.ref}" for c in columns)
    relation = (f"(SELECT file_row_number AS __row, {aliased} FROM "
                f"read_parquet({sql_str(str(path))}, file_row_number=true))")
    return Source(path, "parquet", relation, columns, count, 0,
                  LineMap("rows"), temp_tables=["__ls_malformed"],
                  never_empty=_never_empty(con, sql_str(str(path)), [c.name for c in columns]))


def _never_empty(con: duckdb.DuckDBPyConnection, path: str, names: list[str]) -> frozenset[str]:
    """Columns the file's own statistics prove hold a value on every row: in every row group a
    null count of 0 and, for text, a minimum that is not ''. A file written without statistics
    proves nothing, and its rows are checked one by one as usual."""
    try:
        rows = con.execute(
            f"SELECT path_in_schema, count(*), count(*) FILTER (WHERE stats_null_count = 0 AND "
            f"(type <> 'BYTE_ARRAY' OR (stats_min_value IS NOT NULL AND stats_min_value <> ''))) "
            f"FROM parquet_metadata({path}) GROUP BY path_in_schema").fetchall()
        groups = scalar(con, f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata({path})")
    except duckdb.Error:
        return frozenset()
    wanted = set(names)
    return frozenset(str(name) for name, n, proven in rows
                     if name in wanted and n == groups and proven == n)
