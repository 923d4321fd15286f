"""Migration 14: ``lead_rows_marked``, the contacts whose leads-list rows the server rewrites moments
after a real-time write (``storage/lead_rows_later.py`` says why and how).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped. The table
starts empty: every display row is written as of this version.
"""

from __future__ import annotations

import duckdb


def _create_marks(con: duckdb.DuckDBPyConnection) -> None:
    from leadscore.storage.lead_rows_later import migrate  # it reads the store module, which reads this list

    migrate(con)


LEAD_MARKS_MIGRATION = [_create_marks]
