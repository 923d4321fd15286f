"""Companies: their built-in columns, and how a domain is written so contacts can be matched to it.

A company's ``domain`` is stored normalised, so that ``https://www.Acme.com/about`` in a CRM
export and ``acme.com`` in an e-mail address meet: lower-cased (DuckDB's ``lower``), spaces
trimmed, any ``scheme://`` dropped, the part after a last ``@`` kept (``@acme.com``), cut at the
first ``/``, ``?``, ``#`` or ``:`` (a path, a query, a port), a leading ``www.`` and trailing dots
dropped; nothing left is NULL. The importer applies the SQL form to whole files and the API the
Python form to one request, so both are written here side by side and a hypothesis test
(tests/storage/test_companies.py) checks they agree, like ``storage/identity.py``'s rules.

    >>> normalize_domain(" https://www.Acme.COM/about?x=1 ")
    'acme.com'
    >>> normalize_domain("www.")
"""

from __future__ import annotations

import re

from leadscore.storage.identity import SPACE_SEPARATORS
from leadscore.textfold import sql_lower

_SCHEME = r"^[a-z][a-z0-9+.\-]*://"
_TAIL = r"(?s)[/?#:].*$"  # (?s): a path may hold a line break; RE2 and Python then agree
_WWW = r"^www\."


def normalize_domain_sql(value_sql: str) -> str:
    """SQL: the stored form of a domain (see the module docstring); NULL stays NULL."""
    text = f"lower(trim(CAST({value_sql} AS VARCHAR)))"
    text = f"regexp_replace({text}, '{_SCHEME}', '')"
    text = f"split_part({text}, '@', -1)"
    text = f"regexp_replace({text}, '{_TAIL}', '')"
    text = f"regexp_replace({text}, '{_WWW}', '')"
    return f"nullif(rtrim({text}, '.'), '')"


def not_a_domain_sql(value_sql: str) -> str:
    """SQL: whether a given (non-NULL) value is no domain name once normalised (empty, no dot, a
    space inside); the companies import, ``import history`` and ``PUT /v1/companies`` refuse it."""
    domain = normalize_domain_sql(value_sql)
    return (f"({value_sql} IS NOT NULL AND ({domain} IS NULL OR NOT contains({domain}, '.') "
            f"OR regexp_matches({domain}, '\\s')))")


_SCHEME_RE, _TAIL_RE, _WWW_RE = re.compile(_SCHEME), re.compile(_TAIL, re.DOTALL), re.compile(_WWW)


def normalize_domain(value: str | None) -> str | None:
    """Python: ``normalize_domain_sql`` as DuckDB computes it."""
    if value is None:
        return None
    text = sql_lower(value.strip(SPACE_SEPARATORS))  # DuckDB's trim: every Unicode space separator
    text = _SCHEME_RE.sub("", text, count=1)
    text = text.rsplit("@", 1)[-1]
    text = _TAIL_RE.sub("", text, count=1)
    text = _WWW_RE.sub("", text, count=1)
    return text.rstrip(".") or None
