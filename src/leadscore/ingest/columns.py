"""What the store holds, column by column: type, fill rate and most frequent values.

``leadscore columns`` prints it, so a new user can write conditions against the data as it is
(`Working Professional`, not `Working professional`) and spot placeholders (`Select`) to declare
in ``null_values:``. Two passes per table whatever its width: one counting filled values and
finding candidates (``approx_top_k``), one counting the candidates exactly (``ingest/topvalues.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadscore.ingest.readers import first_row, sql_name
from leadscore.ingest.topvalues import top_values
from leadscore.storage.store import Store

TABLES = ("contacts", "events")


@dataclass
class ColumnProfile:
    table: str
    name: str
    type: str  #: the DuckDB type
    rows: int
    filled: int  #: rows with a value (not NULL)
    top: list[tuple[str, int]] = field(default_factory=list)  #: most frequent values seen more than once

    @property
    def fill_rate(self) -> float:
        return self.filled / self.rows if self.rows else 0.0


def column_profiles(store: Store, tables: tuple[str, ...] = TABLES) -> list[ColumnProfile]:
    """Every column of ``tables`` with its type, fill rate and (text columns) most frequent values."""
    out: list[ColumnProfile] = []
    for table in tables:
        types = store.column_types(table)
        names = list(types)
        counts = first_row(store.con, "SELECT count(*), " + ", ".join(f"count({sql_name(n)})" for n in names)
                           + f" FROM {table}")
        rows, filled = int(counts[0]), [int(c) for c in counts[1:]]
        text = {n: sql_name(n) for n in names if types[n].upper() == "VARCHAR"}
        tops = top_values(store.con, table, text) if rows else {}
        out += [ColumnProfile(table, n, types[n], rows, f, tops.get(n, [])) for n, f in zip(names, filled, strict=True)]
    return out
