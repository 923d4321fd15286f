"""Stop a contacts import that would double the base: the same people under other ids.

Importing an export again with another id column (``--id-column "Lead Number"`` after a first
import keyed by ``Prospect ID``) makes every row a new contact: 9,240 became 18,481 without a word.
Before anything is written, ``check_new_ids`` looks at the rows whose id is not stored yet; when
they are most of the file and they are recognisably people already stored, the import stops
(``--allow-new-ids`` lets it through):

* their e-mail address is that of a stored contact (case and spaces aside), or
* another column of the file holds stored contact ids (the first import's id column, which the
  second import kept as a custom column).

Each test reads a bounded sample of the new rows, so it costs milliseconds on any file.
"""

from __future__ import annotations

import duckdb

from leadscore.errors import ImportError_
from leadscore.ingest.readers import Source, first_row, scalar

SAMPLE = 2000
HINT = ("import with the id column of the first import, or pass --allow-new-ids if these really are other "
        "contacts; nothing was imported")


def check_new_ids(con: duckdb.DuckDBPyConnection, source: Source, id_source: str | None, has_email: bool) -> None:
    """Raise ``ImportError_`` when most good rows are new by id but match stored contacts otherwise.

    Runs after ``__ls_rows`` is built (each row's ``contact_id`` resolved) and before any write.
    """
    if scalar(con, "SELECT count(*) FROM (SELECT 1 FROM contacts LIMIT 1)") == 0:
        return
    good, new = first_row(con, "SELECT count(*), count(*) FILTER (WHERE c.contact_id IS NULL) FROM __ls_rows r "
                               "LEFT JOIN contacts c USING (contact_id) WHERE NOT r.__bad")
    if not good or new * 2 <= good:
        return
    sample = (f"(SELECT r.* FROM __ls_rows r ANTI JOIN contacts c USING (contact_id) WHERE NOT r.__bad "
              f"LIMIT {SAMPLE})")
    taken = scalar(con, f"SELECT count(*) FROM {sample}")
    ids = f"the ids in `{id_source}`" if id_source else "the ids"
    if has_email:
        known = scalar(con, f"SELECT count(*) FROM {sample} s WHERE lower(trim(s.email)) IN "
                            "(SELECT lower(trim(email)) FROM contacts WHERE email IS NOT NULL)")
        if known * 2 > taken:
            raise ImportError_(
                f"{source.path.name}: {new:,} of {good:,} rows would be new contacts, but {_share(known, taken)} "
                f"of them have the e-mail of a contact already stored under another id: {ids} are not the "
                f"ids of the contacts stored; {HINT}")
    for column in source.columns:
        if column.name == id_source:
            continue
        value = f"trim(CAST(src.{column.ref} AS VARCHAR))"
        known = scalar(con, f"SELECT count(*) FROM {sample} s JOIN {source.relation} src USING (__row) "
                            f"WHERE {value} IN (SELECT contact_id FROM contacts)")
        if known * 2 > taken:
            raise ImportError_(
                f"{source.path.name}: {new:,} of {good:,} rows would be new contacts, but in {_share(known, taken)} "
                f"of them column `{column.name}` holds the id of a stored contact: the "
                f"contacts were imported with `{column.name}` as their id, this import uses {ids}; "
                f"import with --id-column \"{column.name}\", or pass --allow-new-ids if these really "
                "are other contacts; nothing was imported")


def _share(part: int, checked: int) -> str:
    return f"{round(100 * part / checked)}% (of {checked:,} checked)"
