"""Generated models and data for the conformance suite: ``tests/strategies.py``'s, plus three things.

* **Typed columns.** Contacts and events get a column of every type the importer creates beyond
  text (BIGINT, DOUBLE, BOOLEAN, TIMESTAMP) and a text column of awkward values (a newline, a
  vertical tab, ``ü``, ``%``), and a group ``typed`` of rules over them, ``where`` tests on event
  columns of every type included.
* **Portable regexes.** Patterns of the portable subset (``\\b``, ``\\w``, ``\\s``, ``.``, ``$``,
  classes, bounds) chosen where engines would disagree without translation: ``.`` against a
  newline, ``$`` before a final newline, ``\\s`` against ``\\v``, ``\\w``/``\\b`` next to ``ü``.
* **Totals on the bounds.** Half the time the tiers (and the matrix bands) are moved onto totals
  (and group points) the data actually reaches, so labels are decided exactly at a bound.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from tests.strategies import (
    AS_OF,
    EXACT_AGES,
    POINTS,
    TIMESTAMP_DAYS,
    Scenario,
    datasets,
    edge_groups,
    model_dicts,
    timestamp_tests,
)

from leadscore.engine.reference import score_many_reference
from leadscore.model.spec import ScoringModel

REGIONS = ("EMEA", "emea-north", "Nord\nEst", "Zürich", "a_b c", "x\x0by", "", "line\n", "APAC 2", "100%",
           "über")
PORTABLE_REGEXES = ("^EMEA$", r"\bnorth\b", r"\w+$", r"^\s", r"\S\s\S", "[a-z]{2,4}", "Z.rich", "Nord.Est",
                    r"^[^\d]*$", "(?:emea|APAC)", r"\d", r"\Borth", "line$", r"\.", r"x\sy", "[_%]", "^$", "ü",
                    "[A-Z]{4}", r"\bber", r"[\w-]+", "a|b", r"^\W", "e$")
SEATS = (0, 1, 10, 250, -3)
RATIOS = (0.0, 0.5, 0.1 + 0.2, 0.3, 1.0, -0.25)
AMOUNTS = (0.0, 9.99, 10, 10.5, -1.0)
QUANTITIES = (0, 1, 3)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def typed_contact(as_of: datetime) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "region": _opt(st.sampled_from(REGIONS)), "seats": _opt(st.sampled_from(SEATS)),
        "ratio": _opt(st.sampled_from(RATIOS)),
        "trial_ends": _opt(st.sampled_from(TIMESTAMP_DAYS).map(lambda d: as_of - timedelta(days=d)))})


def typed_event(as_of: datetime) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "amount": _opt(st.sampled_from(AMOUNTS)), "quantity": _opt(st.sampled_from(QUANTITIES)),
        "paid": _opt(st.booleans()),
        "sent_at": _opt(st.sampled_from(EXACT_AGES).map(lambda d: as_of - timedelta(days=d)))})


def _number_test(values: tuple[float, ...]) -> st.SearchStrategy[dict[str, Any]]:
    bound = st.sampled_from(values)
    return st.one_of(st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte", "equals",
                                                                      "not_equals"]), bound),
                     st.lists(bound, min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}),
                     st.lists(bound, min_size=1, max_size=3).map(lambda b: {"in": b}),
                     st.sampled_from([{"is_set": True}, {"is_empty": True}]))


def _text_test() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.sampled_from(PORTABLE_REGEXES).map(lambda p: {"matches": p}),
                     st.sampled_from(REGIONS).map(lambda v: {"equals": v}),
                     st.sampled_from(["\n", "ü", "%", "orth", ""]).map(lambda v: {"contains": v}),
                     st.sampled_from(["EMEA", "Nord", "line"]).map(lambda v: {"starts_with": v}))


@st.composite
def typed_conditions(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    """One leaf over a typed column: a contact property, or an event with a typed ``where``."""
    kind = draw(st.sampled_from(["region", "seats", "ratio", "trial_ends", "is_customer", "event"]))
    if kind == "region":
        return {"property": "region", **draw(_text_test())}
    if kind == "seats":
        return {"property": "seats", **draw(_number_test(SEATS + (5.5,)))}
    if kind == "ratio":
        return {"property": "ratio", **draw(_number_test(RATIOS))}
    if kind == "trial_ends":
        return {"property": "trial_ends", **draw(timestamp_tests(as_of))}
    if kind == "is_customer":
        return {"property": "is_customer", "equals": draw(st.booleans())}
    column = draw(st.sampled_from(["amount", "quantity", "paid", "sent_at"]))
    if column == "amount":
        test = draw(_number_test(AMOUNTS))
    elif column == "quantity":
        test = draw(_number_test(QUANTITIES))
    elif column == "paid":
        test = {"equals": draw(st.booleans())}
    else:
        test = draw(timestamp_tests(as_of))
    cond: dict[str, Any] = {"event": draw(st.sampled_from(["page_view", "form_submit", "demo_request"])),
                            "where": {column: test}}
    if draw(st.booleans()):
        cond["within_days"] = draw(st.sampled_from((1, 7, 30)))
    return cond


@st.composite
def typed_group(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    rules = []
    for i in range(draw(st.integers(1, 5))):
        when = draw(typed_conditions(as_of))
        rules.append({"name": f"t{i}", "when": when if draw(st.integers(0, 3)) else {"not": when},
                      "points": draw(st.sampled_from(POINTS))})
    return {"rules": rules}


@st.composite
def conformance_scenarios(draw: st.DrawFn) -> Scenario:
    """``strategies.scenarios`` with typed columns, a ``typed`` group, and bounds on the totals."""
    as_of = draw(st.sampled_from((AS_OF, datetime(2024, 2, 29, 0, 0, 0, 1))))
    contacts, events = draw(datasets(as_of))
    contacts = [c | draw(typed_contact(as_of)) for c in contacts]
    events = [e | draw(typed_event(as_of)) for e in events]
    model = draw(model_dicts(as_of))
    edges = draw(edge_groups(contacts, events, as_of))
    if edges is not None:
        model["groups"]["edges"] = edges
    model["groups"]["typed"] = draw(typed_group(as_of))
    scoring = ScoringModel.model_validate(model)
    if draw(st.booleans()):
        scoring = _on_the_bounds(draw, model, scoring, contacts, events, as_of)
    return Scenario(scoring, contacts, events, as_of)


def _on_the_bounds(draw: st.DrawFn, model: dict[str, Any], scoring: ScoringModel, contacts: list[dict[str, Any]],
                   events: list[dict[str, Any]], as_of: datetime) -> ScoringModel:
    """The model with tier bounds (and matrix bands) moved onto totals (group points) the data reaches."""
    scores = score_many_reference(scoring, contacts, events, as_of).values()
    totals = sorted({s.total for s in scores})
    if not totals:
        return scoring
    picked = sorted(set(draw(st.lists(st.sampled_from(totals), min_size=1, max_size=3))))
    model["tiers"] = {f"at{i}": bound for i, bound in enumerate(picked)}
    if "matrix" in model:
        for axis, labels in (("fit", "ABC"), ("engagement", "123")):
            points = sorted({s.groups[model["matrix"][axis]["group"]] for s in scores})
            chosen = sorted(set(draw(st.lists(st.sampled_from(points), min_size=1, max_size=3))))
            model["matrix"][axis]["bands"] = dict(zip(labels, chosen, strict=False))
    return ScoringModel.model_validate(model)
