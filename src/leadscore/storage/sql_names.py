"""How a column or table name is written into DuckDB SQL built as text.

Most SQL is built by the compiler through sqlglot, but storage, the API's writers, workflows and the
dashboard build a few statements as text around names that come from users (a CSV header, a
property in a model, a ``set:`` action). Such a name must always be a quoted identifier with its
own double quotes doubled, or a header like ``a"; DROP TABLE x; --`` would end the identifier. The
rule lived in six private copies; it lives here, in a module with no imports, so the lowest storage
modules (the bulk migration, the display table) can use it without an import cycle::

    >>> print(quoted('Lead "A" Source'))
    "Lead ""A"" Source"
"""

from __future__ import annotations


def quoted(name: str) -> str:
    """``name`` as a DuckDB quoted identifier (any text is safe, NUL aside, which DuckDB refuses)."""
    return '"' + name.replace('"', '""') + '"'
