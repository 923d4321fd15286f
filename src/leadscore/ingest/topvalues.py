"""The most frequent values of the text columns an import adds, so a user sees placeholders.

Exports are full of values that mean "empty" to a person and not to a program: `Select` (a web
form's unanswered drop-down, in 20-40% of X Education's rows), `N/A`, `-`. Printed after the
first import, they are easy to spot and to declare in ``null_values:`` (mapping or leadscore.yml).

Two passes over the staged rows, only for new text columns: ``approx_top_k`` finds the candidates
(one pass, all columns at once; ~0.05 s per column per million rows here), then exact counts of
those candidates (a second pass of ``count(*) FILTER``).
"""

from __future__ import annotations

import duckdb

from leadscore.ingest.readers import first_row, sql_str

TOP = 3


def top_values(con: duckdb.DuckDBPyConnection, relation: str, cleaned: dict[str, str],
               k: int = TOP) -> dict[str, list[tuple[str, int]]]:
    """Column → its ``k`` most frequent non-empty values with their counts (values seen once left out).

    ``cleaned`` maps a column's name to the SQL of its cleaned value over ``relation``.
    """
    if not cleaned:
        return {}
    names = list(cleaned)
    candidates = first_row(con, f"SELECT {', '.join(f'approx_top_k({cleaned[n]}, {k})' for n in names)} "
                                f"FROM {relation}")
    pairs = [(n, str(v)) for n, found in zip(names, candidates, strict=True) for v in (found or []) if v is not None]
    if not pairs:
        return {n: [] for n in names}
    counts = first_row(con, "SELECT " + ", ".join(f"count(*) FILTER ({cleaned[n]} = {sql_str(v)})" for n, v in pairs)
                       + f" FROM {relation}")
    out: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    for (name, value), count in zip(pairs, counts, strict=True):
        if int(count) > 1:
            out[name].append((value, int(count)))
    for values in out.values():
        values.sort(key=lambda vc: (-vc[1], vc[0]))
    return out
