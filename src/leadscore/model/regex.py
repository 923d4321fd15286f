"""Regular expressions of ``matches``: RE2's dialect (DuckDB's engine), checked before anything runs.

A pattern is run by the SQL engine, so RE2 decides what it means; the pure-Python reference
scorer (``explain``, ``preview``) runs the same patterns with RE2 itself (the ``google-re2``
package), never with Python's backtracking ``re``: RE2 takes time linear in the text, so a
pattern such as ``^(.+)+Z`` cannot hold the server (Python's ``re`` needs seconds for a
28-character e-mail, doubling with each character, holding the GIL all along).

``portability_problem`` refuses what RE2 cannot compile (asked of DuckDB itself, so ``\\Z``,
``\\u00fc`` or ``(?x)`` fail at ``leadscore validate``, not half-way through a score run) and what
the other engines (Spark's Java patterns, Postgres) read differently: ``{,3}`` (a quantifier in
Python and Java, literal text in RE2) and POSIX classes like ``[[:alpha:]]``, plus look-arounds,
back-references and atomic groups (RE2 has none).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Protocol

import duckdb
import re2

#: RE2 has no look-around, back-reference or atomic group (Python syntax for them).
_NO_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\(\?>")

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


def portability_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a ``matches`` value, or None when every engine reads it alike."""
    if _NO_RE2.search(pattern) or re.search(r"(?<!\\)\\[1-9]", pattern):
        return "uses a look-around, back-reference or atomic group, which RE2 (DuckDB's engine) does not have"
    if re.search(r"(?<!\\)\{,", pattern):
        return "`{,n}` is a quantifier in Python but literal text in RE2: write `{0,n}`"
    if "[[:" in pattern or "[^[:" in pattern:
        return "POSIX classes like `[[:alpha:]]` mean different things in RE2 and Python: write the ranges"
    if re.search(r"(?<!\\)\[[^\]]*\\[DWS]", pattern):
        return "`\\D`, `\\W` or `\\S` inside `[...]`: write the ranges instead (e.g. `[^0-9]`)"
    return _re2_error(pattern)


@lru_cache(maxsize=1024)
def _re2_error(pattern: str) -> str | None:
    global _con
    with _lock:
        if _con is None:
            _con = duckdb.connect()
        try:
            _con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return "RE2 (DuckDB's engine) cannot read it: " + str(exc).split(":", 1)[-1].strip()
    try:
        re2_pattern(pattern)
    except ValueError as exc:  # DuckDB's RE2 and the package's are built apart: both must read it
        return str(exc)
    return None


class Pattern(Protocol):
    """What the reference scorer needs of a compiled pattern."""

    def search(self, text: str) -> object | None: ...


@lru_cache(maxsize=1024)
def re2_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled by RE2 with DuckDB's options: a search in time linear in the text.

    Raises ``ValueError`` for a pattern RE2 refuses (``portability_problem`` found it first when
    the model was validated).
    """
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern on stderr
    try:
        compiled: Pattern = re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"RE2 cannot read the pattern {pattern!r}: {exc}") from exc
    return compiled
