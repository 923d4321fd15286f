"""Migration 12: company property history, so an account score "as of" a past date reads the
company properties of that date (issue 15's gap, closed like issue 14 closed it for contacts).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

``company_property_history`` is ``property_history`` (``migrations_history.py``) with
``company_id`` for ``contact_id``: one row per change of a company property, its new and old
values as DuckDB's text of them, ``changed_at`` the moment the new value became true. The rule and
the writer are the contacts' ones (``storage/history.py``, ``Level`` = ``COMPANIES``): the value as
of T is the latest change at or before T; a value with no change time is *assumed* to have held
since the company's ``created_at``; ``companies`` holds the latest change, so scoring now reads
``companies`` alone.

An upgraded store has no company change recorded yet (before this migration nothing logged one:
account workflows cannot ``set`` company properties), so its history starts empty, which is
consistent: every company's stored value is its assumed value, the one an as-of score read
before the upgrade, and ``companies`` equals the (absent) latest change. The first write after
the upgrade records its change from that stored value.

``meta.company_property_history_latest`` bounds the latest ``changed_at``, as
``property_history_latest`` does for contacts: an account run as of an instant at or after it
reads no company history at all.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from leadscore.storage.migrations_history import CREATE_HISTORY

COMPANY_HISTORY = "company_property_history"
COMPANY_LATEST_KEY = "company_property_history_latest"

#: ``property_history``'s table (migration 9, shipped: its text is reused, not copied) for companies.
CREATE_COMPANY_HISTORY = (CREATE_HISTORY.replace("CREATE TABLE property_history", f"CREATE TABLE {COMPANY_HISTORY}")
                          .replace("contact_id VARCHAR", "company_id VARCHAR"))
assert COMPANY_HISTORY in CREATE_COMPANY_HISTORY and "company_id" in CREATE_COMPANY_HISTORY

COMPANY_HISTORY_MIGRATION: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    CREATE_COMPANY_HISTORY,
]
