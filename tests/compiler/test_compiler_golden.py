"""Golden SQL: each ``tests/golden/<case>/model.yml`` compiles to exactly its reviewed SQL.

A change in the compiler shows up as a diff of these files; refresh them with
``pytest tests/compiler --update-golden`` and review ``git diff tests/golden``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
import yaml
from tests.compiler.compiler_helpers import AS_OF

from leadscore.compiler import DIALECTS, parse_sql, render_sql
from leadscore.model.loader import load_model
from leadscore.storage.store import Store

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "leadscore" / "data" / "example_model.yml"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "model.yml").is_file())


@pytest.fixture(autouse=True)
def _hook_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.invalid/sales")


def _options(case: str) -> dict[str, object]:
    """The case's own compile options (``compile.yml``, e.g. ``history_table``), if any."""
    file = GOLDEN / case / "compile.yml"
    return yaml.safe_load(file.read_text()) if file.is_file() else {}


def _render(case: str, dialect: str) -> str:
    model = load_model(GOLDEN / case / "model.yml").model
    return render_sql(model, as_of=AS_OF, dialect=dialect, detail=True, **_options(case)) + "\n"


def test_at_least_five_cases() -> None:
    assert {"example", "property_operators", "event_bands", "decay_caps_matrix", "combinators"} <= set(CASES)


def test_example_case_is_the_shipped_example() -> None:
    assert (GOLDEN / "example" / "model.yml").read_text() == EXAMPLE.read_text(), (
        "the shipped example model changed: copy it to tests/golden/example/model.yml and run "
        "pytest tests/compiler --update-golden"
    )


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("case", CASES)
def test_golden_sql(case: str, dialect: str, update_golden: bool) -> None:
    expected_file = GOLDEN / case / f"expected.{dialect}.sql"
    sql = _render(case, dialect)
    if update_golden:
        expected_file.write_text(sql)
        return
    assert expected_file.is_file(), f"missing {expected_file}: run pytest tests/compiler --update-golden"
    assert sql == expected_file.read_text(), (
        f"compiled SQL for {case}/{dialect} changed; if intended, run "
        "pytest tests/compiler --update-golden and review the diff"
    )


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("case", CASES)
def test_golden_sql_parses_back_in_its_dialect(case: str, dialect: str) -> None:
    sql = (GOLDEN / case / f"expected.{dialect}.sql").read_text()
    tree = parse_sql(sql, dialect)
    assert isinstance(tree, sqlglot.exp.Query)
    assert [s.alias_or_name for s in tree.selects][:4] == ["contact_id", "score", "tier", "grade"]
    # Reading it back and writing it again is stable: nothing was lost in the round trip.
    again = sqlglot.transpile(sql, read=dialect, write=dialect, pretty=True)[0]
    assert parse_sql(again, dialect) == tree


@pytest.mark.parametrize("case", CASES)
def test_golden_duckdb_sql_runs_on_an_empty_store(case: str) -> None:
    sql = (GOLDEN / case / "expected.duckdb.sql").read_text()
    with Store.open(":memory:") as store:
        cursor = store.con.execute(sql)
        assert cursor.fetchall() == []
        names = [d[0] for d in cursor.description]
    model = load_model(GOLDEN / case / "model.yml").model
    groups = [f"g_{k}" for k in range(len(model.groups))]
    detail = [f"{p}_{i}" for i in range(len(model.rules())) for p in ("r", "rraw", "rn", "rf")]
    assert names == ["contact_id", "score", "tier", "grade", *groups, *detail]
