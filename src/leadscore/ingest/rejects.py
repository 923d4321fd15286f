"""Rejected rows: gathered in one temp table with their line numbers, written as one CSV.

A rejects file has the columns ``line``, ``reason`` and then the file's own columns with the values
as they were read, so a user can fix the rows and import the rejects file itself (after deleting
the first two columns). Rows DuckDB could not split carry their fields as far as they could be
split, and say so in ``reason``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from leadscore.ingest.readers import Source, first_row, scalar, sql_name, sql_str


def collect_rejects(con: duckdb.DuckDBPyConnection, source: Source, rows_table: str,
                    bad_rows: int) -> int:
    """Fill ``__ls_rejects`` (``__line``, ``__reason``, ``__s0``…) and return how many there are.

    ``bad_rows`` (rows of ``rows_table`` with ``__bad`` set, counted by the caller) spares a pass
    over the rows when there are none."""
    raw = ", ".join(f"CAST(s.{c.ref} AS VARCHAR) AS __s{i}" for i, c in enumerate(source.columns))
    raw_types = ", ".join(f"__s{i} VARCHAR" for i in range(len(source.columns)))
    con.execute("DROP TABLE IF EXISTS __ls_rejects")
    con.execute(f"CREATE TEMP TABLE __ls_rejects (__line BIGINT, __reason VARCHAR"
                f"{', ' + raw_types if raw_types else ''})")
    bad = con.execute(f"SELECT __row FROM {rows_table} WHERE __bad "
                      "ORDER BY __row").fetchnumpy()["__row"] if bad_rows else []
    if len(bad):
        lines = source.line_map.lines(np.asarray(bad, dtype=np.int64))
        table = pa.table({"__row": pa.array(np.asarray(bad, dtype=np.int64)),
                          "__line": pa.array(lines)})
        con.complete()
        con.register("__ls_lines_arrow", table)
        try:
            con.execute(
                f"INSERT INTO __ls_rejects SELECT l.__line, r.__reason{', ' + raw if raw else ''} "
                f"FROM (SELECT __row, __reason FROM {rows_table} WHERE __bad) r "
                f"JOIN __ls_lines_arrow l USING (__row) "
                f"JOIN {source.relation} s USING (__row)")
        finally:
            con.unregister("__ls_lines_arrow")
    if source.format != "parquet":
        fields = ", ".join(f"{c.ref} AS __s{i}" for i, c in enumerate(source.columns))
        con.execute(f"INSERT INTO __ls_rejects BY NAME SELECT __line, __reason"
                    f"{', ' + fields if fields else ''} FROM __ls_malformed")
    return scalar(con, "SELECT count(*) FROM __ls_rejects")


def first_reject(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = first_row(con, "SELECT __line, __reason FROM __ls_rejects ORDER BY __line LIMIT 1")
    return int(row[0]), str(row[1])


def rejects_path(rejects_dir: Path, kind: str, source: Path, started: datetime) -> Path:
    """``<kind>-<file stem>-<UTC timestamp>.csv``, never overwriting an earlier one."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    base = f"{kind}-{source.stem}-{started:%Y%m%dT%H%M%S}"
    candidate, n = rejects_dir / f"{base}.csv", 2
    while candidate.exists():
        candidate, n = rejects_dir / f"{base}-{n}.csv", n + 1
    return candidate


def write_rejects(con: duckdb.DuckDBPyConnection, source: Source, target: Path) -> Path:
    """Write ``__ls_rejects`` to ``target`` as CSV, in line order."""
    used = {"line", "reason"}
    columns = []
    for i, col in enumerate(source.columns):
        name, n = col.name, 2
        while name.lower() in used:
            name, n = f"{col.name} ({n})", n + 1
        used.add(name.lower())
        columns.append(f"__s{i} AS {sql_name(name)}")
    select = ", ".join(["__line AS line", "__reason AS reason", *columns])
    con.execute(f"COPY (SELECT {select} FROM __ls_rejects ORDER BY __line) "
                f"TO {sql_str(str(target))} (HEADER, DELIMITER ',')")
    return target
