"""Values a model compares text with that never occur in the data: a typo, almost always.

``{property: what_is_your_current_occupation, in: [Working professional]}`` validates (the column
exists, the value is text) and then never fires, because the data says `Working Professional`.
``unseen_values`` looks each ``equals`` / ``not_equals`` / ``in`` / ``not_in`` text value up in the
store (contact properties and event ``where:`` columns) and warns about those no row holds, naming
the values that are close (case aside first, then by spelling) with their counts. A store without
rows in the table says nothing: there is nothing to compare with yet.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Protocol

from leadscore.errors import ModelIssue
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    PropertyCondition,
    ValueTest,
)
from leadscore.model.loader import LoadedModel
from leadscore.model.spec import ScoringModel


class Store(Protocol):
    """What this module reads of a store (``storage.Store`` is one; the model layer sits below it):
    its columns and a connection to query."""

    con: Any

    def columns(self, table: str) -> dict[str, str]: ...

Path = tuple[str, ...]
_OPERATORS = ("equals", "not_equals", "in", "not_in")
#: the most frequent values compared by spelling (a column of unique values needs no more)
CANDIDATES = 5000


def unseen_values(loaded: LoadedModel, store: Store) -> list[ModelIssue]:
    """A warning for each text value of an equality test that no stored row holds (see the module)."""
    wanted: dict[tuple[str, str], list[tuple[str, Path]]] = defaultdict(list)
    text = {"contacts": _text_columns(store, "contacts"), "events": _text_columns(store, "events")}
    for table, column, value, path in _tests(loaded):
        if column in text[table] and isinstance(value, str):
            wanted[(table, column)].append((value, path))
    issues = []
    for (table, column), uses in wanted.items():
        values = sorted({v for v, _ in uses})
        name = '"' + column.replace('"', '""') + '"'
        present = {r[0] for r in store.con.execute(
            f"SELECT DISTINCT {name} FROM {table} WHERE {name} IN (SELECT unnest(?))", [values]).fetchall()}
        missing = [(v, p) for v, p in uses if v not in present]
        if not missing:
            continue
        counts = store.con.execute(f"SELECT {name}, count(*) FROM {table} WHERE {name} IS NOT NULL "
                                   f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {CANDIDATES}").fetchall()
        if not counts:
            continue
        for value, path in missing:
            issues.append(ModelIssue(
                loaded.file, ".".join(path),
                f"`{value}` never occurs in {_where(table, column)}, so this test never matches it",
                line=loaded.line_for(path), hint=_close(value, counts), severity="warning"))
    return issues


def _where(table: str, column: str) -> str:
    return f"contact property `{column}`" if table == "contacts" else f"event property `{column}`"


def _close(value: str, counts: list[tuple[Any, int]]) -> str:
    by_value = {str(v): int(n) for v, n in counts}
    same_case = [v for v in by_value if v.lower() == value.lower()]
    close = same_case or difflib.get_close_matches(value, list(by_value), 3, 0.6)
    if close:
        return "close values in the data: " + ", ".join(f"`{v}` ({by_value[v]:,})" for v in close)
    top = list(by_value)[:5]
    return "most frequent values: " + ", ".join(f"`{v}` ({by_value[v]:,})" for v in top) + \
        "; `leadscore columns` lists them all"


def _text_columns(store: Store, table: str) -> set[str]:
    return {name for name, logical in store.columns(table).items() if logical == "string"}


def _tests(loaded: LoadedModel) -> Iterator[tuple[str, str, Any, Path]]:
    """(table, column, value, key path) of every text value of an equality test in the model."""
    model = loaded.model
    if not isinstance(model, ScoringModel):  # an account model's properties are companies'
        return
    for g, group in model.groups.items():
        for i, rule in enumerate(group.rules):
            yield from _in_condition(rule.when, ("groups", g, "rules", str(i), "when"), loaded)
    for w, workflow in enumerate(model.workflows):
        if workflow.if_ is not None:
            yield from _in_condition(workflow.if_, ("workflows", str(w), "if"), loaded)


def _in_condition(cond: Condition, path: Path, loaded: LoadedModel) -> Iterator[tuple[str, str, Any, Path]]:
    if isinstance(cond, PropertyCondition):
        yield from _in_test(cond, "contacts", cond.property, path, loaded)
    elif isinstance(cond, EventCondition):
        for name, test in cond.where.items():
            yield from _in_test(test, "events", name, path + ("where", name), loaded)
    elif isinstance(cond, AllCondition | AnyCondition):
        key = "all" if isinstance(cond, AllCondition) else "any"
        for j, part in enumerate(cond.all if isinstance(cond, AllCondition) else cond.any):
            yield from _in_condition(part, path + (key, str(j)), loaded)
    elif isinstance(cond, NotCondition):
        yield from _in_condition(cond.not_, path + ("not",), loaded)


def _in_test(test: ValueTest, table: str, column: str, path: Path,
             loaded: LoadedModel) -> Iterator[tuple[str, str, Any, Path]]:
    op = test.operator
    if op not in _OPERATORS:
        return
    at = path + (op,) if path + (op,) in loaded.lines else path
    if op in ("in", "not_in"):
        for j, v in enumerate(test.value):
            yield table, column, v, at + (str(j),) if at + (str(j),) in loaded.lines else at
    else:
        yield table, column, test.value, at
