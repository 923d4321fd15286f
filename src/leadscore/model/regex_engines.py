"""Regular expressions every engine reads alike: the portable subset, and its text for each engine.

A ``matches`` pattern means what RE2 (DuckDB's engine) makes of it (docs/model-reference.md). Spark
runs Java's ``java.util.regex`` and Postgres its own "advanced regular expressions"; the three
disagree on details that matter: Java's ``$`` also matches before a final newline, Postgres' ``.``
matches a newline, ``\\w`` and ``\\s`` follow the locale in Postgres and include ``\\v`` in Java,
``\\b`` is a backspace in Postgres and Unicode-aware in Java 17, a ``[`` inside a class starts a
nested class in Java, bounds stop at 255 in Postgres, and ``(?i)`` folds case three ways.

So for Spark and Postgres a pattern must keep to a **portable subset**, checked by
``leadscore validate`` for the workspace's engine (``engine_regex_problem``), and the compiler
writes it in each engine's syntax with RE2's meaning (``translate``):

* literal characters, and any punctuation escaped with ``\\`` (``\\.``, ``\\/``, ``\\(``...);
* ``.`` (any character but a newline), ``^`` and ``$`` (start and end of the whole text);
* ``\\d \\D \\w \\W \\s \\S`` (ASCII: ``[0-9]``, ``[A-Za-z0-9_]``, ``[\\t\\n\\f\\r ]``), ``\\b \\B`` (ASCII
  word boundary), ``\\n \\t \\r \\f``;
* classes ``[...]`` / ``[^...]`` with ranges and the escapes above (``\\d \\w \\s`` inside), a ``]`` or
  ``[`` in them escaped;
* groups ``(...)`` and ``(?:...)``, alternation ``|``, quantifiers ``* + ? {n} {n,} {n,m}`` (m ≤ 255),
  lazy or not.

Left out, with the reason in the error: flags such as ``(?i)``, named groups, ``\\p{..}`` classes,
``\\A \\z \\Q..\\E \\x..`` escapes, and anything RE2 itself refuses. DuckDB takes RE2's full syntax.
"""

from __future__ import annotations

from leadscore.errors import LeadscoreError


class NotPortable(LeadscoreError):
    """A pattern outside the portable subset of an engine (the message says why and where)."""

#: Engines whose regular expressions need the portable subset (DuckDB runs RE2 itself).
NON_RE2 = ("spark", "postgres")
_WORD = "A-Za-z0-9_"
_SPACE = "\\t\\n\\f\\r "
_IN_CLASS = {"d": "0-9", "w": _WORD, "s": _SPACE}
_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "s": f"[{_SPACE}]",
            "S": f"[^{_SPACE}]",
            "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
            "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"}
_CONTROL = "ntrf"
_MAX_BOUND = 255


def engine_regex_problem(pattern: str, engine: str) -> str | None:
    """Why ``pattern`` is outside the portable subset for ``engine`` (None when it is inside)."""
    if engine not in NON_RE2:
        return None
    try:
        translate(pattern, engine)
    except NotPortable as exc:
        return str(exc)
    return None


def translate(pattern: str, engine: str) -> str:
    """``pattern`` written for ``engine``'s regex engine with RE2's meaning (see the docstring)."""
    if engine not in NON_RE2:
        return pattern
    return _Translator(pattern, engine).run()


class _Translator:
    def __init__(self, pattern: str, engine: str) -> None:
        self.p, self.engine, self.i = pattern, engine, 0
        self.out: list[str] = []

    def fail(self, why: str) -> NotPortable:
        return NotPortable(f"on {self.engine}, {why} (at character {self.i + 1} of the pattern); "
                                "see the portable subset in docs/engines.md")

    def run(self) -> str:
        depth = 0
        while self.i < len(self.p):
            ch = self.p[self.i]
            if ch == "\\":
                self.out.append(self.escape(in_class=False))
                continue
            if ch == "[":
                self.klass()
                continue
            if ch == "(":
                if self.p.startswith("(?", self.i) and not self.p.startswith("(?:", self.i):
                    raise self.fail("flags like `(?i)`, named groups and look-arounds are not portable "
                                    "(case folding differs between engines: write [Cc]EO)")
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "{":
                self.bound()
                continue
            elif ch in "]}":
                raise self.fail(f"write a literal `{ch}` as `\\{ch}`")
            elif ch == ".":
                self.out.append("[^\\n]")
                self.i += 1
                continue
            elif ch == "$" and self.engine == "spark":
                self.out.append("\\z")  # Java's `$` also matches before a final newline
                self.i += 1
                continue
            self.out.append(ch)
            self.i += 1
        if depth != 0:
            raise self.fail("the parentheses are unbalanced")
        return "".join(self.out)

    def escape(self, *, in_class: bool) -> str:
        if self.i + 1 >= len(self.p):
            raise self.fail("the pattern ends with a lone `\\`")
        nxt = self.p[self.i + 1]
        self.i += 2
        if not nxt.isalnum():
            return "\\" + nxt
        if nxt in _CONTROL:
            return "\\" + nxt
        if in_class:
            if nxt in _IN_CLASS:
                return _IN_CLASS[nxt]
            raise self.fail(f"`\\{nxt}` inside `[...]` is not portable: write the ranges")
        if nxt in _OUTSIDE:
            return _OUTSIDE[nxt]
        raise self.fail(f"`\\{nxt}` is not portable")

    def klass(self) -> None:
        start = self.i
        self.i += 1
        parts = ["["]
        if self.i < len(self.p) and self.p[self.i] == "^":
            parts.append("^")
            self.i += 1
        if self.i < len(self.p) and self.p[self.i] == "]":
            raise self.fail("a `]` first in `[...]` is not portable: write `\\]`")
        while self.i < len(self.p) and self.p[self.i] != "]":
            ch = self.p[self.i]
            if ch == "\\":
                parts.append(self.escape(in_class=True))
                continue
            if ch == "[":
                raise self.fail("a `[` inside `[...]` starts a nested class in Java: write `\\[`")
            if ch == "&" and self.p.startswith("&&", self.i):
                raise self.fail("`&&` inside `[...]` is an intersection in Java: write `\\&\\&`")
            parts.append(ch)
            self.i += 1
        if self.i >= len(self.p):
            self.i = start
            raise self.fail("a `[` is never closed")
        parts.append("]")
        self.i += 1
        self.out.append("".join(parts))

    def bound(self) -> None:
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1:end] if end > 0 else ""
        lo, _, hi = body.partition(",")
        if end < 0 or not lo.isdigit() or (hi and not hi.isdigit()) or not self.out:
            raise self.fail("a `{` that is not a repeat like `{2,5}` is not portable: write `\\{`")
        if int(lo) > _MAX_BOUND or (hi and int(hi) > _MAX_BOUND):
            raise self.fail(f"repeats above {_MAX_BOUND} are not portable (Postgres stops there)")
        self.out.append(self.p[self.i:end + 1])
        self.i = end + 1
