"""One conformance suite for every engine: DuckDB, Spark and Postgres give the reference's numbers.

The pure-Python reference scorer (``engine.reference``) says what a model means; every engine
runs the same generated models on the same rows, in the three query shapes production runs (see
``legs.py``), and must agree with it (``compare.py``): scores, group and rule points within 1e-9,
counts and fired flags equal, and tiers and grades exact — totals land exactly on tier and band
bounds in about half the examples (``scenarios.py``). Data and models cover a column of every
type the importer creates, on contacts and on events, and regexes of the portable subset where
the engines' own regex dialects would disagree.

Each engine is one class made by ``suite`` with its own example budget: Spark answers a query in
~0.1–0.5 s where DuckDB takes a millisecond. ``LEADSCORE_CONFORMANCE_EXAMPLES=N`` runs N examples
per engine (CI runs the fixed numbers below), e.g. to hunt for a disagreement before a release.
What one engine cannot express is refused by ``validate`` for that engine, never computed
differently (``test_what_the_engine_cannot_express_is_refused``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from tests.conformance.compare import assert_agrees
from tests.conformance.legs import CONTACT_COLUMNS, EVENT_COLUMNS, DuckDBLeg
from tests.conformance.scenarios import conformance_scenarios
from tests.strategies import Scenario

from leadscore.compiler import UnsupportedError, compile_model
from leadscore.engine.reference import score_many_reference
from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.model.spec import ScoringModel
from leadscore.model.validate import validate_model

#: Examples per engine in CI; LEADSCORE_CONFORMANCE_EXAMPLES overrides all three.
EXAMPLES = {"duckdb": 60, "spark": 12, "postgres": 60}
_OVERRIDE = os.environ.get("LEADSCORE_CONFORMANCE_EXAMPLES")
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


def examples(engine: str) -> int:
    return int(_OVERRIDE) if _OVERRIDE else EXAMPLES[engine]


def _describe(scenario: Scenario) -> None:
    """The failing model as YAML and its rows, ready to paste into a regression test."""
    dumped = scenario.model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    note("model:\n" + yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True))
    note(f"as_of: {scenario.as_of.isoformat()}")
    note("contacts:\n" + "\n".join(repr(c) for c in scenario.contacts))
    note("events:\n" + "\n".join(repr(e) for e in scenario.events))


def compiled(leg: DuckDBLeg, model: ScoringModel, as_of: datetime, **options: Any) -> str:
    return compile_model(model, as_of=as_of, dialect=leg.name, contact_columns=CONTACT_COLUMNS,
                         event_columns=EVENT_COLUMNS, **options).sql(dialect=leg.sqlglot)


def check_every_shape(leg: DuckDBLeg, scenario: Scenario, one: str, some: list[str]) -> None:
    """The batch, detail (one contact) and listed (parameterised) shapes against the reference."""
    model, as_of = scenario.model, scenario.as_of
    leg.load(scenario.contacts, scenario.events)
    expected = score_many_reference(model, scenario.contacts, scenario.events, as_of)
    assert_agrees(model, leg.run(compiled(leg, model, as_of)), expected, detail=False, where="batch")
    assert_agrees(model, leg.run(compiled(leg, model, as_of, detail=True, contact_id=one)),
                  {c: r for c, r in expected.items() if c == one}, detail=True, where=f"detail of {one!r}")
    assert_agrees(model, leg.listed(model, as_of, some), {c: r for c, r in expected.items() if c in some},
                  detail=False, where=f"listed {some!r}")


def suite(engine: str) -> type:
    """The conformance tests bound to one engine's leg fixture (``<engine>_leg``)."""

    class Suite:
        @pytest.fixture
        def leg(self, request: pytest.FixtureRequest) -> DuckDBLeg:
            leg: DuckDBLeg = request.getfixturevalue(f"{engine}_leg")
            return leg

        @settings(max_examples=examples(engine), deadline=None, suppress_health_check=_SLOW_OK)
        @given(scenario=conformance_scenarios(), data=st.data())
        def test_generated_models_agree_in_every_shape(self, leg: DuckDBLeg, scenario: Scenario,
                                                       data: st.DataObject) -> None:
            ids = [c["contact_id"] for c in scenario.contacts] + ["nobody"]
            one = data.draw(st.sampled_from(ids), label="detail contact")
            some = data.draw(st.lists(st.sampled_from(ids), unique=True), label="listed contacts")
            try:
                check_every_shape(leg, scenario, one, some)
            except Exception:
                _describe(scenario)
                raise

        def test_labels_exactly_at_the_bounds(self, leg: DuckDBLeg) -> None:
            """Totals of exactly 10 and 25, group points of exactly 5, 10 and 20: the label that starts there."""
            model = parse_model(BOUNDS_MODEL, "bounds.yml").model
            scenario = Scenario(model, *_bounds_rows(AS_OF), AS_OF)
            check_every_shape(leg, scenario, "c1", ["c0", "c2", "nobody"])
            rows = {r["contact_id"]: r for r in leg.run(compiled(leg, model, AS_OF))}
            assert [(rows[c]["score"], rows[c]["tier"], rows[c]["grade"]) for c in ("c0", "c1", "c2", "c3")] == [
                (15.0, "warm", "B2"), (25.0, "hot", "A2"), (10.0, "warm", "B3"), (0.0, "cold", "C3")]

        def test_typed_columns_and_portable_regexes(self, leg: DuckDBLeg) -> None:
            """Where the engines' own regexes differ (a newline, `\\v`, `ü`, a final newline), and a
            `where` on event columns of every type: what each rule decides is spelled out."""
            model = parse_model(TYPED_MODEL, "typed.yml").model
            contacts, events = _typed_rows(AS_OF)
            scenario = Scenario(model, contacts, events, AS_OF)
            check_every_shape(leg, scenario, "nl", ["nl", "vt", "uml"])
            fired = {r["contact_id"]: [r[f"rf_{i}"] for i in range(len(model.rules()))]
                     for r in leg.run(compiled(leg, model, AS_OF, detail=True))}
            assert fired == TYPED_FIRED

        def test_what_the_engine_cannot_express_is_refused(self, leg: DuckDBLeg) -> None:
            """A pattern outside the portable subset, and a `set` action: refused by validate for
            Spark and Postgres (and the compiler will not write the pattern), accepted for DuckDB."""
            loaded = parse_model(REFUSED_MODEL, "refused.yml")
            if leg.name == "duckdb":
                validate_model(loaded, contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS, engine="duckdb")
                compiled(leg, loaded.model, AS_OF)
                return
            with pytest.raises(ModelError) as refused:
                validate_model(loaded, contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS, engine=leg.name)
            message = str(refused.value)
            assert "(?i)" in message and "case folding" in message and "`set` changes contact properties" in message
            assert f"engine {leg.name}" in message
            with pytest.raises(UnsupportedError, match="not portable"):
                compiled(leg, loaded.model, AS_OF)

    Suite.__name__ = Suite.__qualname__ = f"Test{engine.capitalize()}"
    return Suite


AS_OF = datetime(2025, 6, 1, 12)

BOUNDS_MODEL = """\
name: bounds
tiers: {cold: 0, warm: 10, hot: 25}
matrix:
  fit: {group: fit, bands: {C: 0, B: 10, A: 20}}
  engagement: {group: engagement, bands: {"3": 0, "2": 5, "1": 15}}
groups:
  fit:
    rules:
      - {name: ceo, when: {property: job_title, equals: CEO}, points: 10}
      - {name: big, when: {property: company_size, gte: 100}, points: 10}
  engagement:
    rules:
      - {name: demo, when: {event: demo_request}, points: 5}
"""


def _bounds_rows(as_of: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    contacts = [{"contact_id": f"c{i}", "job_title": title, "company_size": size}
                for i, (title, size) in enumerate([("CEO", 5), ("CEO", 500), ("x", 500), ("x", 5)])]
    events = [{"event_id": f"e{i}", "contact_id": cid, "type": "demo_request", "occurred_at": as_of - timedelta(days=1)}
              for i, cid in enumerate(["c0", "c1"])]
    return contacts, events


TYPED_MODEL = r"""
name: typed
groups:
  text:
    rules:
      - {name: dot, when: {property: region, matches: "Nord.Est"}, points: 1}
      - {name: end, when: {property: region, matches: "line$"}, points: 1}
      - {name: space, when: {property: region, matches: "x\\sy"}, points: 1}
      - {name: word, when: {property: region, matches: "\\bber"}, points: 1}
      - {name: wordchar, when: {property: region, matches: "^\\w"}, points: 1}
      - {name: class, when: {property: region, matches: "[\\d_%]"}, points: 1}
  numbers:
    rules:
      - {name: seats, when: {property: seats, between: [10, 250]}, points: 2}
      - {name: ratio, when: {property: ratio, gte: 0.3}, points: 2}
      - {name: trial, when: {property: trial_ends, within_days: 7}, points: 2}
      - {name: customer, when: {property: is_customer, equals: true}, points: 2}
  events:
    rules:
      - {name: big order, when: {event: form_submit, where: {amount: {gt: 10}}}, points: 3}
      - {name: quantity, when: {event: form_submit, where: {quantity: {in: [3]}}}, points: 3}
      - {name: paid, when: {event: form_submit, where: {paid: true}}, points: 3}
      - {name: sent, when: {event: form_submit, where: {sent_at: {older_than_days: 30}}}, points: 3}
"""


def _typed_rows(as_of: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    contacts = [
        {"contact_id": "nl", "region": "Nord\nEst", "seats": 10, "ratio": 0.1 + 0.2, "is_customer": True,
         "trial_ends": as_of - timedelta(days=7)},
        {"contact_id": "vt", "region": "x\x0by", "seats": 251, "ratio": 0.3, "is_customer": False,
         "trial_ends": as_of - timedelta(days=7, microseconds=1)},
        {"contact_id": "uml", "region": "über", "seats": None, "ratio": None},
        {"contact_id": "end", "region": "line\n", "seats": 250},
        {"contact_id": "pct", "region": "100%"},
    ]
    events = [
        {"event_id": "e1", "contact_id": "nl", "type": "form_submit", "occurred_at": as_of - timedelta(days=2),
         "amount": 10.5, "quantity": 3, "paid": True, "sent_at": as_of - timedelta(days=31)},
        {"event_id": "e2", "contact_id": "vt", "type": "form_submit", "occurred_at": as_of - timedelta(days=2),
         "amount": 10.0, "quantity": 1, "paid": False, "sent_at": as_of - timedelta(days=30)},
        {"event_id": "e3", "contact_id": "uml", "type": "page_view", "occurred_at": as_of - timedelta(days=2),
         "amount": 99.0, "quantity": 3, "paid": True},
    ]
    return contacts, events


#: rule by rule (dot, end, space, word, wordchar, class, seats, ratio, trial, customer, big order,
#: quantity, paid, sent): RE2's meaning, which Java and Postgres would not give without translation
TYPED_FIRED = {
    "nl": [False, False, False, False, True, False, True, True, True, True, True, True, True, True],
    "vt": [False, False, False, False, True, False, False, True, False, False, False, False, False, False],
    "uml": [False, False, False, True, False, False, False, False, False, False, False, False, False, False],
    "end": [False, False, False, False, True, False, True, False, False, False, False, False, False, False],
    "pct": [False, False, False, False, True, True, False, False, False, False, False, False, False, False],
}

REFUSED_MODEL = """
name: refused
groups:
  fit:
    rules:
      - {name: ceo, when: {property: job_title, matches: "(?i)^ceo$"}, points: 10}
workflows:
  - {name: stage, on: {enters_tier: hot}, do: [{set: {region: EMEA}}]}
tiers: {cold: 0, hot: 10}
"""

TestDuckdb = suite("duckdb")
TestSpark = suite("spark")
TestPostgres = suite("postgres")
