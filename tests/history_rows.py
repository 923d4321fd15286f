"""Generated property histories (``strategies.property_histories``) recorded as the store records them.

The differential test and the conformance suite give every engine the same history rows: the
changes go through ``storage.history.record_changes`` (as a history file's would), which chains
each row's ``old_value`` and leaves ``contacts`` holding each property's latest value. Engines
other than DuckDB then load the resulting ``contacts`` and ``property_history`` rows as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from leadscore.storage.history import CONTACTS, Level, record_changes, stage_table

#: The columns of ``property_history`` an engine reads (compiler/properties_as_of.py).
HISTORY_COLUMNS = ("contact_id", "property", "old_value", "new_value", "changed_at")


def record_history(con: duckdb.DuckDBPyConnection, types: dict[str, str], history: Sequence[dict[str, Any]],
                   level: Level = CONTACTS) -> None:
    """Stage each change with DuckDB's text of its typed value (``types``: the contacts columns'
    DuckDB types), then record them all; a change without ``changed_at`` states an assumed value.
    ``level``: companies' changes (keyed by ``company_id``) into their history."""
    if not history:
        return
    stage = stage_table(con, level)
    selects = []
    params: list[Any] = []
    for i, change in enumerate(history):
        text = f"CAST(CAST(? AS {types[change['property']]}) AS VARCHAR)"
        assumed = change["changed_at"] is None
        if assumed:
            selects.append(f"SELECT ?, ?, NULL, NULL, {text}, true, {i}")
        else:
            selects.append(f"SELECT ?, ?, {text}, ?, NULL, false, {i}")
        params += [change[level.key], change["property"], change["value"]]
        params += [] if assumed else [change["changed_at"]]
    con.execute(f"INSERT INTO {stage} " + " UNION ALL ".join(selects), params)
    record_changes(con, source="test", now=datetime(2100, 1, 1), current_written=False, level=level)
