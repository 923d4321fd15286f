"""Migration 13: the leads list's display table gains the predicted priority and probability
(``storage/lead_rows.py`` says why and how they are kept).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped. The step adds
``lead_rows.priority`` and ``lead_rows.probability`` and fills them from the predictions of the
predictive model that predicted last, so an upgraded store sorts and filters its list by priority
as before, without joining ``predictions`` per request (at 1M contacts the fill takes about a second,
once).
"""

from __future__ import annotations

import duckdb


def _add_priorities(con: duckdb.DuckDBPyConnection) -> None:
    from leadscore.storage.lead_rows import add_priorities  # lead_rows reads the store module, which reads this list

    add_priorities(con)


LEAD_PRIORITY_MIGRATION = [_add_priorities]
