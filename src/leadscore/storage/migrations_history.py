"""Migration 9: property history, so a score "as of" a past date reads the properties of that date.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

``property_history`` holds one row per change of a contact property: the value it took
(``new_value``), the value it replaced (``old_value``), and ``changed_at``, the moment the new
value became true (not when leadscore heard of it: that is ``recorded_at``). Values are stored as
DuckDB's text of the typed value (``CAST(x AS VARCHAR)``) and cast back to the column's type when
read, so one table holds every property, custom columns included.

Why the old value is stored beside the new one: the value of property p as of T is the value of
p's latest change at or before T, which is also the *old* value of p's first change after T, and
the current value (in ``contacts``) when no change came after T. The second form reads only the
changes after T, a small part of the table for a recent T, and nothing at all for "now": this is
what keeps scoring now exactly as fast as without history (``compiler/properties_as_of.py``).
The writer (``storage/history.py``) keeps ``old_value`` equal to the previous change's
``new_value`` whatever order changes arrive in, and ``contacts`` equal to the latest change.

No row has a NULL ``changed_at``: a value imported with no change time is *assumed* to have held
since the contact's ``created_at``. It is the ``old_value`` of the property's first change, or the
value in ``contacts`` when the property never changed. A key is (contact_id, property, changed_at);
the writer keeps it unique, as contacts and events keep theirs (no index: see migrations_bulk.py).

The workflows' ``property_changes`` table (migration 2, changes made by ``set``) becomes a view of
this table: its rows move here, and readers of the old name keep working. That table logged only
``set``: an import or an API write that later changed the same property logged nothing, so a
property's latest logged value may not be its value in ``contacts``. Where it is not, the move
appends the change that must have happened since, to the stored value, at the contact's
``updated_at`` when that is after the last logged change, else at the migration's time: the
history's latest value is the current one again, and scoring as of any date after the last
``set`` reads the value scoring now reads.

``meta.property_history_latest`` is the latest ``changed_at`` ever recorded: a score run whose
as-of is at or after it needs no history at all, and one row of ``meta`` says so without a scan.

``predictive_holdout`` belongs to the same issue (no leakage in what is reported): the held-out
rows a predictive model was measured on at training (the newest cut-off of a time split, or the
random validation share), each with its cross-fitted probability and its label, so the report
shows the same AUC and calibration error as ``leadscore train`` and never measures a model on
rows it learned from.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from leadscore.model.properties import UNVERSIONED_COLUMNS
from leadscore.timeutil import utcnow

CREATE_HISTORY = """CREATE TABLE property_history (
    contact_id VARCHAR NOT NULL,
    property VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR,
    changed_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    run_id VARCHAR,
    recorded_at TIMESTAMP NOT NULL
)"""

#: The workflows' log under its old name (migration 2), now a view of the history.
PROPERTY_CHANGES_VIEW = """CREATE VIEW property_changes AS
    SELECT contact_id, property, old_value, new_value, changed_at, source, run_id FROM property_history"""

LATEST_KEY = "property_history_latest"


def move_property_changes(con: duckdb.DuckDBPyConnection) -> None:
    """The rows of ``property_changes`` into ``property_history``, one per (contact, property, time).

    Two ``set`` rounds of one run share a ``changed_at``: the later row (by rowid) is kept, and each
    row's old value is made the previous row's new value, the first keeping its own.
    """
    con.execute("""INSERT INTO property_history
        SELECT contact_id, property,
               CASE WHEN row_number() OVER w = 1 THEN first_old ELSE lag(new_value) OVER w END,
               new_value, changed_at, source, run_id, changed_at
        FROM (SELECT *, first_value(old_value) OVER (PARTITION BY contact_id, property
                                                     ORDER BY changed_at, rowid) AS first_old
              FROM property_changes
              QUALIFY row_number() OVER (PARTITION BY contact_id, property, changed_at
                                         ORDER BY rowid DESC) = 1)
        WINDOW w AS (PARTITION BY contact_id, property ORDER BY changed_at)""")
    con.execute("DROP TABLE property_changes")
    con.execute(PROPERTY_CHANGES_VIEW)
    _catch_up_with_contacts(con)
    con.execute(f"""INSERT OR REPLACE INTO meta
        SELECT '{LATEST_KEY}', CAST(max(changed_at) AS VARCHAR) FROM property_history
        HAVING max(changed_at) IS NOT NULL""")


def _catch_up_with_contacts(con: duckdb.DuckDBPyConnection) -> None:
    """A change to the stored value wherever a property's latest moved change is not it (see above)."""
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'contacts'").fetchall()}
    now = utcnow()
    for (name,) in con.execute("SELECT DISTINCT property FROM property_history ORDER BY 1").fetchall():
        if name not in columns or name in UNVERSIONED_COLUMNS:
            continue
        column = '"' + name.replace('"', '""') + '"'
        con.execute(f"""INSERT INTO property_history
            SELECT l.contact_id, l.property, l.value, CAST(c.{column} AS VARCHAR),
                   CASE WHEN c.updated_at > l.at THEN c.updated_at
                        ELSE greatest($now, l.at + INTERVAL 1 MICROSECOND) END,
                   'migration', NULL, $now
            FROM (SELECT contact_id, property, max(changed_at) AS at, arg_max_null(new_value, changed_at) AS value
                  FROM property_history WHERE property = $name GROUP BY ALL) l
            JOIN contacts c USING (contact_id)
            WHERE l.value IS DISTINCT FROM CAST(c.{column} AS VARCHAR)""", {"now": now, "name": name})


CREATE_HOLDOUT = """CREATE TABLE predictive_holdout (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, contact_id VARCHAR NOT NULL,
    cutoff TIMESTAMP NOT NULL, probability DOUBLE NOT NULL, converted BOOLEAN NOT NULL
)"""

HISTORY_MIGRATION: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    CREATE_HISTORY,
    move_property_changes,
    CREATE_HOLDOUT,
]
