"""Migration 11: the leads list's display table (``storage/lead_rows.py`` says why and how it is kept).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped. The step
creates the table and fills it from the stored scores, history and contacts, so a store made by an
older release shows the same list after the upgrade (at 1M contacts the fill takes a few seconds,
once).
"""

from __future__ import annotations

import duckdb


def _create_lead_rows(con: duckdb.DuckDBPyConnection) -> None:
    from leadscore.storage.lead_rows import migrate  # lead_rows reads the store module, which reads this list

    migrate(con)


LEAD_ROWS_MIGRATION = [_create_lead_rows]
