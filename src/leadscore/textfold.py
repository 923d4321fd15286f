"""Text folded exactly as DuckDB folds it, for keys computed in Python and matched in SQL.

An e-mail address identifies a contact as ``lower(trim(email))`` in SQL (imports, lookups) and in
Python (the API; both in ``storage/identity.py``), and Python's ``str.lower`` is not DuckDB's
``lower``: Python applies Unicode's full and contextual mappings (``'ΟΔΟΣ'.lower()`` ends in a
final sigma ``ς``; ``'İ'.lower()`` is two code points), DuckDB maps each code point on its own.
Folding differently made an address like ``ΣΟΦΙΑΣ@x.io`` two contacts. ``sql_lower`` is checked
against DuckDB over every code point up to U+2FFFF (tests/test_textfold.py).
"""

from __future__ import annotations


def sql_lower(text: str) -> str:
    """DuckDB's ``lower(text)``: each code point's own lower case (U+0130 İ → i)."""
    if text.isascii():
        return text.lower()
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)

