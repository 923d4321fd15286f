"""Who a row is about and what an event's id is: each rule written once in SQL and once in Python.

The importer works in SQL over whole files (``ingest/writers.py``); the API works in Python on one
request at a time (``api/writes.py``, ``api/values.py``). Both must find the same contact for the
same address and give the same event the same id, or importing a file and posting the same event
stores it twice, or one person becomes two contacts (a past bug: Python's ``str.lower`` and
DuckDB's ``lower`` fold ``Σ`` differently). So the two forms of each rule sit side by side here,
and tests/storage/test_identity.py runs both on generated input and compares them.

The rules:

* **e-mail key** — an address identifies a contact as ``lower(trim(email))``: spaces trimmed (the
  Unicode space separators, as DuckDB's ``trim``: no tabs or line breaks), each code point
  lowered on its own (``textfold.sql_lower``).
* **contact id from an e-mail** — a contact created from an address alone gets
  ``'c_' || left(sha1(key), 16)``, stable across imports and the API.
* **generated ids** — an event (``e_``) or deal (``d_``) without an id gets
  ``prefix || left(md5(owner ␟ text(v1) ␟ text(v2) ...), 20)``: ``owner`` is the row's
  ``contact_id`` or else ``'email:' || key``; the values are the row's stored columns sorted by
  name, each as DuckDB's ``CAST(v AS VARCHAR)`` with NULL as chr(30) (so ``(a, NULL)`` and
  ``(NULL, a)`` differ); ␟ is chr(31).

    >>> email_contact_id(" Ann@Example.COM")
    'c_85e20fa15f500fa1'
    >>> email_contact_id_sql("t.email")
    "('c_' || left(sha1(lower(trim(t.email))), 16))"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadscore.textfold import sql_lower

#: joins the parts of a generated id, and stands for NULL in them: control characters no CRM value holds
SEPARATOR, NULL_TEXT = "\x1f", "\x1e"
EVENT_ID_PREFIX, DEAL_ID_PREFIX, CONTACT_ID_PREFIX = "e_", "d_", "c_"


# --- e-mail key -------------------------------------------------------------------------------

def email_key_sql(email_sql: str) -> str:
    """SQL: the key an address identifies its contact by."""
    return f"lower(trim({email_sql}))"


#: What DuckDB's ``trim`` removes: the Unicode space separators (category Zs), not tabs or line
#: breaks (checked over every code point in tests/storage/test_identity.py).
SPACE_SEPARATORS = "".join(map(chr, (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)))


def email_key(email: str) -> str:
    """Python: ``email_key_sql`` as DuckDB computes it (``trim`` takes the space separators)."""
    return sql_lower(email.strip(SPACE_SEPARATORS))


# --- contact id from an e-mail ---------------------------------------------------------------

def email_contact_id_sql(email_sql: str) -> str:
    """SQL: the id a new contact known only by its address gets."""
    return f"('{CONTACT_ID_PREFIX}' || left(sha1({email_key_sql(email_sql)}), 16))"


def email_contact_id(email: str) -> str:
    """Python: ``email_contact_id_sql``."""
    return CONTACT_ID_PREFIX + hashlib.sha1(email_key(email).encode("utf-8")).hexdigest()[:16]


# --- generated event and deal ids ------------------------------------------------------------

def owner_sql(contact_id_sql: str | None, email_sql: str | None) -> str:
    """SQL: the contact part of a generated id (either column may be missing from a file)."""
    by_email = f"'email:' || {email_key_sql(email_sql)}" if email_sql else None
    if contact_id_sql and by_email:
        return f"COALESCE({contact_id_sql}, {by_email})"
    return contact_id_sql or by_email or "NULL"


def owner(contact_id: str | None, email: str | None) -> str | None:
    """Python: ``owner_sql``."""
    if contact_id is not None:
        return contact_id
    return None if email is None else "email:" + email_key(email)


def generated_id_sql(prefix: str, owner_expr: str, values_sql: Mapping[str, str]) -> str:
    """SQL: the id of a row without one, from its owner and its stored columns (name → expression)."""
    parts = [owner_expr] + [f"COALESCE(CAST({values_sql[name]} AS VARCHAR), chr({ord(NULL_TEXT)}))"
                            for name in sorted(values_sql)]
    return f"'{prefix}' || left(md5(concat_ws(chr({ord(SEPARATOR)}), {', '.join(parts)})), 20)"


def generated_id(prefix: str, owner_text: str | None, values: Mapping[str, Any]) -> str:
    """Python: ``generated_id_sql`` over Python values typed as their columns store them.

    ``concat_ws`` skips a NULL owner (a row the importer then refuses for having no contact);
    values are never NULL there (they become chr(30)).
    """
    parts = ([] if owner_text is None else [owner_text]) + [duckdb_text(values[name]) for name in sorted(values)]
    return prefix + hashlib.md5(SEPARATOR.join(parts).encode("utf-8")).hexdigest()[:20]


def duckdb_text(value: Any) -> str:
    """``COALESCE(CAST(value AS VARCHAR), chr(30))`` as DuckDB writes it, for the values a column of
    VARCHAR, BIGINT, DOUBLE, BOOLEAN or TIMESTAMP holds (the types the importer and the API store)."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
                f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text
    if isinstance(value, float):
        return repr(value)
    return str(value)
