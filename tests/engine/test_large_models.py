"""Models as large as users write them run, and what DuckDB cannot run is refused at ``validate``.

A group of 995 rules once passed ``validate`` and then failed every score run on DuckDB's
expression-depth limit (a sum nests one level per term); sums are now added in runs
(``compiler.build.SUM_RUN``), and ``validate`` / ``publish`` plan the production query shapes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import leadscore
from leadscore.engine.limits import check_runnable
from leadscore.engine.reference import score_reference
from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.storage.store import Store

AS_OF = datetime(2025, 6, 1)


def _model(rules: int, *, name: str = "big", points: str = "1") -> str:
    lines = "\n".join(f"      - {{name: r{i}, when: {{property: company_size, gte: {i}}}, points: {points}}}"
                      for i in range(1, rules + 1))
    return f"version: 1\nname: {name}\ntiers: {{cold: 0, warm: 300, hot: 700}}\ngroups:\n  fit:\n    rules:\n{lines}\n"


@pytest.mark.slow
def test_995_rules_in_one_group_validate_publish_and_score(tmp_path: Path) -> None:
    ws = leadscore.init(tmp_path / "ws")
    for starter in ws.models_dir.glob("*.yml"):
        starter.unlink()
    with ws.open_store() as store, store.transaction() as con:
        con.execute("INSERT INTO contacts (contact_id, company_size) VALUES ('a', 700), ('b', 5), ('c', NULL)")
    path = ws.models_dir / "big.yml"
    path.write_text(_model(995))
    leadscore.validate(path, workspace=ws)
    leadscore.publish(path, workspace=ws)
    leadscore.score(workspace=ws, as_of=AS_OF)
    with ws.open_store(read_only=True) as store:
        scores = dict(store.con.execute("SELECT contact_id, score FROM scores").fetchall())
    assert scores == {"a": 700, "b": 5, "c": 0}
    [one] = leadscore.score_one("a", workspace=ws, as_of=AS_OF)  # the parameterised real-time query
    assert one.contacts == 1
    explained = leadscore.explain("a", workspace=ws)  # the one-contact query with per-rule detail
    assert explained.total == 700 and sum(r.fired for r in explained.rules) == 700


def test_a_long_sum_rounds_as_the_reference_scorer_adds() -> None:
    loaded = parse_model(_model(250, points="0.1"), "m.yml")
    with Store.open(":memory:") as store:
        store.con.execute("INSERT INTO contacts (contact_id, company_size) VALUES ('a', 1000)")
        from leadscore.engine.run import compiled_sql

        [(total, tier)] = store.con.execute(f"SELECT score, tier FROM ({compiled_sql(store, loaded.model, AS_OF)})"
                                            ).fetchall()
    ref = score_reference(loaded.model, {"contact_id": "a", "company_size": 1000}, [], AS_OF)
    assert total == ref.total and tier == ref.tier  # the same order of additions: equal to the last bit


def test_a_model_the_engine_cannot_plan_is_refused_with_the_engines_limit() -> None:
    loaded = parse_model(_model(40), "models/big.yml")
    with Store.open(":memory:") as store:
        check_runnable(store, loaded, always=True)
        store.con.execute("SET max_expression_depth TO 30")
        check_runnable(store, loaded)  # 40 rules: small, not compiled by `validate`
        with pytest.raises(ModelError) as caught:
            check_runnable(store, loaded, always=True)  # as `publish` does
    [issue] = caught.value.issues
    assert issue.file == "models/big.yml" and "limit of 30" in issue.message and "DuckDB cannot run" in issue.message
