"""docs/engines.md documents every engine setting and command, and its portable-subset table is true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from leadscore.engine_settings import EngineSettings, PostgresSettings, SparkSettings, TableRef
from leadscore.model.regex_engines import engine_regex_problem

DOC = (Path(__file__).resolve().parents[2] / "docs" / "engines.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("cls", [EngineSettings, SparkSettings, TableRef, PostgresSettings])
def test_every_setting_is_documented(cls: type[BaseModel]) -> None:
    for name, field in cls.model_fields.items():
        key = field.alias or name
        if cls is EngineSettings and key != "name":
            continue  # DuckDB's own limits, documented with the store
        assert re.search(rf"`{key}`", DOC), f"`{key}` ({cls.__name__}) is not in docs/engines.md"


def test_every_command_is_shown() -> None:
    for command in ("leadscore export data", "leadscore score --engine spark --source", "--engine postgres",
                    "leadscore export scores --engine spark", "leadscore backtest --engine spark",
                    "leadscore report --engine postgres", "leadscore validate --engine spark",
                    "pip install 'leadscore[spark]'", "pip install 'leadscore[postgres]'"):
        assert command in DOC, command


@pytest.mark.parametrize(("pattern", "portable"), [
    ("^(VP|Head) of", True), (r"\.com$", True), (r"\bCEO\b", True), (r"[a-z\d_]{2,255}", True), ("a+?b", True),
    ("(?i)ceo", False), ("(?P<x>a)", False), (r"\p{L}", False), (r"\Aa", False), ("[[:alpha:]]", False),
    ("[]a]", False), ("a{300}", False), ("x{", False), (r"\v", False), ("[a&&b]", False),
])
def test_the_subset_table_holds(pattern: str, portable: bool) -> None:
    for engine in ("spark", "postgres"):
        assert (engine_regex_problem(pattern, engine) is None) is portable, (pattern, engine)
    assert engine_regex_problem(pattern, "duckdb") is None  # DuckDB runs RE2 itself
