"""``matches`` patterns: RE2's dialect (DuckDB) decides, and the reference scorer follows it."""

from __future__ import annotations

import duckdb
import pytest

from leadscore.model.regex import portability_problem, re2_pattern

#: (pattern, value): cases where Python's own `re` and RE2 disagree, and plain ones
CASES = [
    ("CEO$", "CEO\n"), ("CEO$", "CEO"), ("^CEO$", "a\nCEO"), (r"^\w+$", "Zürich"), (r"^\w+$", "Zurich"),
    (r"\d", "x٣y"), (r"\d", "x3y"), (r"\s", "a\u00a0b"), (r"\s", "a\tb"), (r"\S+", "\u00a0"),
    (r"\bfoo\b", "éfoo"), (r"\bfoo\b", "a foo"), (r"\Bfoo", "éfoo"), (r"[\d]+$", "٣"), (r"^[\w-]+$", "ab-c"),
    (r"^[\w-]+$", "äb"), (r"[\s,]", "a,b"), ("[]a]", "]"), ("[^]a]", "b"), (r"\$5", "cost $5"),
    ("a[$]", "a$"), ("(?i)ceo", "CEO"), ("(?m)^b$", "a\nb\nc"), ("V. Sales", "VP Sales"), (r"\.io$", "x.io"),
    ("^(VP|Head) of", "Head of Sales"), ("100%", "100% owner"), ("a_b", "a_b"), (r"C:\\1", "C:\\1"),
]


@pytest.mark.parametrize(("pattern", "value"), CASES)
def test_the_reference_reads_a_pattern_as_duckdb_does(pattern: str, value: str) -> None:
    assert portability_problem(pattern) is None, pattern
    row = duckdb.connect().execute("SELECT regexp_matches(?, ?)", [value, pattern]).fetchone()
    assert row is not None
    assert (re2_pattern(pattern).search(value) is not None) == row[0], (pattern, value)


@pytest.mark.parametrize(("pattern", "why"), [
    (r"CEO\Z", "RE2"), (r"\u00fc", "RE2"), ("(?x)a b", "RE2"), ("C*+", "RE2"), ("x{,3}", "{0,n}"),
    ("[[:alpha:]]", "POSIX"), ("(?=a)b", "look-around"), (r"(a)\1", "back-reference"), (r"[\D]", "ranges"),
])
def test_patterns_the_engines_read_differently_are_refused(pattern: str, why: str) -> None:
    problem = portability_problem(pattern)
    assert problem is not None and why in problem, (pattern, problem)
