"""``validate`` against a store's data: close matches to a misspelt property, and text values of
``equals`` / ``in`` that never occur in the data (model/seen_values.py)."""

from __future__ import annotations

import pytest

from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.model.validate import validate_against_store
from leadscore.storage.store import Store

COLUMNS = ["what_is_your_current_occupation", "what_matters_most_to_you_in_choosing_a_course", "lead_origin",
           "how_did_you_hear_about_x_education", "specialization", *[f"a_column_{i}" for i in range(40)]]


@pytest.fixture
def store() -> Store:
    s = Store.open(":memory:")
    for name in COLUMNS:
        s.con.execute(f'ALTER TABLE contacts ADD COLUMN "{name}" VARCHAR')
    s.con.execute("INSERT INTO contacts (contact_id, what_is_your_current_occupation, lead_origin) "
                  "SELECT 'c' || i, ['Working Professional', 'Student', 'Unemployed'][1 + i % 3], 'API' "
                  "FROM range(30) t(i)")
    s.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) "
                  "VALUES ('e1', 'c1', 'page_view', '2025-01-01', '/pricing')")
    return s


def _model(when: str) -> str:
    return ("version: 1\nname: m\ntiers: {cold: 0, hot: 5}\ngroups:\n  fit:\n    rules:\n"
            f"      - {{name: r, when: {when}, points: 10}}\n")


def test_a_misspelt_property_lists_the_close_names_not_the_alphabet(store: Store) -> None:
    with pytest.raises(ModelError) as caught:
        validate_against_store(parse_model(_model("{property: what_is_your_occupation, equals: Student}"), "m.yml"),
                               store)
    hint = next(i.hint for i in caught.value.issues if i.path.endswith("property")) or ""
    assert "`what_is_your_current_occupation`" in hint and "a_column_0" not in hint, hint


def test_a_value_that_never_occurs_is_a_warning_naming_the_close_ones(store: Store) -> None:
    loaded = parse_model(_model("{property: what_is_your_current_occupation, in: [Working professional, Student]}"),
                         "m.yml")
    [warning] = validate_against_store(loaded, store)
    assert warning.severity == "warning" and warning.path == "groups.fit.rules.0.when.in.0"
    assert "`Working professional` never occurs" in warning.message
    assert warning.hint == "close values in the data: `Working Professional` (10)"


def test_event_where_values_and_values_that_occur(store: Store) -> None:
    loaded = parse_model(_model("{all: [{event: page_view, where: {url: {equals: /pricng}}}, "
                                "{property: lead_origin, equals: API}]}"), "m.yml")
    [warning] = validate_against_store(loaded, store)
    assert "`/pricng` never occurs in event property `url`" in warning.message and "`/pricing`" in (warning.hint or "")
