"""``leadscore export data DIR``: the workspace's contacts, events, deals, companies and property history as a
Parquet lake.

The layout is the one the Spark engine reads (``spark.source`` in leadscore.yml)::

    DIR/contacts/part-*.parquet
    DIR/events/part-*.parquet
    DIR/deals/part-*.parquet
    DIR/companies/part-*.parquet          (read by account models)
    DIR/property_history/part-*.parquet   (read by a Spark score as of a past date)
    DIR/company_property_history/part-*.parquet   (the same, for account models' company properties)

so any workspace, the demo included, can be moved to a lake and scored there with the same
model and the same numbers. Column names and types are the store's (timestamps are naive UTC
microseconds, as in the store); custom columns added by imports come along.

Each table is written into a hidden directory beside its target and renamed into place when
complete, and the previous one removed after: a crash leaves the previous directory, the new one,
or (killed between the two renames) the previous one set aside, which the next export puts back
before it starts; never half a table. An existing table directory is replaced only when asked
(``replace=True``).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlglot import exp

from leadscore.errors import LeadscoreError
from leadscore.storage.store import Store

#: The tables of a lake, in the order they are written.
LAKE_TABLES = ("contacts", "events", "deals", "companies", "property_history", "company_property_history")
#: Target size of one Parquet file: several files per table let Spark read in parallel.
FILE_SIZE = "128MB"


def export_data(store: Store, out: str | Path, *, replace: bool = False,
                tables: tuple[str, ...] = LAKE_TABLES) -> dict[str, int]:
    """Write ``tables`` of the store under ``out`` (one directory each); returns rows per table."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise LeadscoreError(f"{root} is a file: export data writes a directory (give a new or existing directory)")
    root.mkdir(parents=True, exist_ok=True)
    for table in tables:
        if table not in LAKE_TABLES:
            raise LeadscoreError(f"cannot export `{table}`: a lake holds {', '.join(LAKE_TABLES)}")
        _recover(root / table)
    for table in tables:
        target = root / table
        if target.exists() and not target.is_dir():
            raise LeadscoreError(f"{target} is a file where the {table} table's directory goes: move it away")
        if target.exists() and any(target.iterdir()) and not replace:
            raise LeadscoreError(f"{target} already holds data: pass --replace to write it anew")
    counts: dict[str, int] = {}
    for table in tables:
        counts[table] = _write_table(store, table, root / table)
    return counts


def _recover(target: Path) -> None:
    """Finish what a crashed export left: between moving the previous table aside and moving the new
    one into place neither has the table's name, so the previous one is put back; leftover staging
    and set-aside directories are removed."""
    for staging in target.parent.glob(f".{target.name}.*.tmp"):
        shutil.rmtree(staging, ignore_errors=True)
    old = sorted(target.parent.glob(f".{target.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if old and not target.exists():
        old.pop().rename(target)
    for leftover in old:
        shutil.rmtree(leftover, ignore_errors=True)


def _write_table(store: Store, table: str, target: Path) -> int:
    staging = target.with_name(f".{table}.{uuid.uuid4().hex}.tmp")
    literal = exp.Literal.string(str(staging)).sql(dialect="duckdb")
    try:
        row = store.con.execute(
            f"COPY (SELECT * FROM {table}) TO {literal} "
            f"(FORMAT parquet, FILE_SIZE_BYTES '{FILE_SIZE}', FILENAME_PATTERN 'part-{{i}}')").fetchone()
        if not any(staging.glob("*.parquet")):  # an empty table still gets a file with its schema
            staging.mkdir(exist_ok=True)
            store.con.execute(f"COPY (SELECT * FROM {table}) TO "
                              f"{exp.Literal.string(str(staging / 'part-0.parquet')).sql(dialect='duckdb')} "
                              "(FORMAT parquet)")
        old = target.with_name(f".{table}.{uuid.uuid4().hex}.old")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return int(row[0]) if row else 0
