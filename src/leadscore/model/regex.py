"""Regular expressions of ``matches``: RE2's dialect (DuckDB's engine), checked before anything runs.

A pattern is run by the SQL engine, so RE2 decides what it means; the pure-Python reference
scorer must mean the same. Three things keep the two in step:

* ``portability_problem`` refuses what RE2 cannot compile (asked of DuckDB itself, so ``\\Z``,
  ``\\u00fc`` or ``(?x)`` fail at ``leadscore validate``, not half-way through a score run) and what
  the two engines read differently: ``{,3}`` (a quantifier in Python, literal text in RE2) and POSIX
  classes like ``[[:alpha:]]`` (a class in RE2, a set of characters in Python), plus look-arounds,
  back-references and atomic groups (RE2 has none).
* ``python_pattern`` compiles a checked pattern for Python with RE2's meaning: ``$`` is the very
  end of the text (Python's also matches before a final newline), and ``\\d \\w \\s \\b`` are ASCII
  (Python's match any script's digits and letters).
* Case-insensitive ``(?i)`` follows each engine's Unicode case folding, which differs on a few
  letters such as the Turkish dotted İ; docs/model-reference.md says so.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import duckdb

#: RE2 has no look-around, back-reference or atomic group (Python syntax for them).
_NO_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\(\?>")
_ASCII_CLASS = {"d": "0-9", "w": "A-Za-z0-9_", "s": "\\t\\n\\f\\r "}
_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]",
            "s": "[\\t\\n\\f\\r ]", "S": "[^\\t\\n\\f\\r ]", "b": "(?a:\\b)", "B": "(?a:\\B)"}

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


def portability_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a ``matches`` value, or None when RE2 and Python agree on it."""
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
    return None


@lru_cache(maxsize=1024)
def python_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled by Python with RE2's meaning (see the module docstring)."""
    multiline = re.match(r"\(\?[a-zA-Z]*m", pattern) is not None
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if in_class and nxt in _ASCII_CLASS:
                out.append(_ASCII_CLASS[nxt])
            elif not in_class and nxt in _OUTSIDE:
                out.append(_OUTSIDE[nxt])
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not _class_start(pattern, i):
                in_class = False
        elif ch == "[":
            in_class = True
        elif ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return re.compile("".join(out))


def _class_start(pattern: str, i: int) -> bool:
    """Whether the ``]`` at ``i`` is the first character of its class (then it is literal)."""
    j = i - 1
    if j >= 0 and pattern[j] == "^":
        j -= 1
    return j >= 0 and pattern[j] == "[" and (j == 0 or pattern[j - 1] != "\\")
