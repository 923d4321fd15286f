"""CSV files that a spreadsheet opens as text, not as formulas (CSV / formula injection).

A contact's name, company or any imported column is whatever a form or a CRM sent, and
Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one) as a formula when the file is opened: ``=HYPERLINK(...)`` can
send the sheet's data elsewhere. OWASP's advice is to prefix such cells with ``'``, which every
spreadsheet shows as text and hides. Every CSV that leadscore writes from stored text (scores,
lists, account scores, the dashboard's list download) goes through ``spreadsheet_safe``; Parquet
files keep the values exactly.
"""

from __future__ import annotations

from typing import Any

import duckdb
from sqlglot import exp

#: the first characters a spreadsheet reads as the start of a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> str:
    """``sql`` with each text column's cells that start like a formula prefixed with ``'``;
    the columns, their names and order, and every other value unchanged."""
    cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params) if params else \
        con.execute(f"SELECT * FROM ({sql}) LIMIT 0")
    starts = ", ".join(exp.Literal.string(c).sql("duckdb") for c in FORMULA_STARTS)
    columns = []
    for name, kind, *_ in cursor.description or []:
        column = exp.to_identifier(name, quoted=True).sql("duckdb")
        if str(kind).upper() in ("VARCHAR", "STRING"):
            columns.append(f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END "
                           f"AS {column}")
        else:
            columns.append(column)
    return f"SELECT {', '.join(columns)} FROM ({sql})"
