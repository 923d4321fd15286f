"""Hypothesis: whatever a user does to a valid model, the answer is a ModelError or a valid model.

Never a traceback: dropped keys, renamed keys, values of the wrong type, and text-level damage
(lines deleted, characters inserted) all end in ``ModelError`` with located issues, or in a model
that passes. Models generated for the differential tests (valid by construction) must validate
without errors against their schema, so this validator never rejects what the engines accept.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import CONTACT_SCHEMA, EVENT_SCHEMA, EVENT_TYPES, model_dicts

from leadscore.errors import ModelError
from leadscore.model import properties
from leadscore.model.loader import _Loader, parse_model
from leadscore.model.validate import validate_model

DATA = Path(__file__).resolve().parents[2] / "src" / "leadscore" / "data"

RICH = """\
version: 1
name: rich
description: every construct once
tiers: {low: -10, mid: 20, top: 45}
cap: 90
floor: -20
groups:
  fit:
    cap: 40
    floor: -15
    rules:
      - {name: title, when: {property: job_title, matches: "^(VP|Head) of"}, points: 10}
      - name: combo
        when:
          all:
            - {property: company_size, between: [50, 5000]}
            - any: [{property: country, in: [DE, AT]}, {not: {property: is_free_email, equals: true}}]
        points: 8
      - {name: recent, when: {property: created_at, within_days: 90}, points: 3}
  engagement:
    decay: {percent_per_month: 20}
    rules:
      - {name: forms, when: {event: [form_submit, demo_request], where: {form: [demo, trial]}}, points: 12}
      - {name: opens, when: {event: email_open, within_days: 60}, points_per_event: 1.5, max: 6,
         decay: {half_life_days: 14}}
      - {name: burst, when: {event: page_view, within_days: 7, between: [3, 20]}, points: 4, decay: false}
      - {name: quiet, when: {no_event_within_days: 45, events: [page_view]}, points: -10}
matrix:
  fit: {group: fit, bands: {A: 25, B: 10, C: 0}}
  engagement: {group: engagement, bands: {"1": 20, "2": 5, "3": 0}}
workflows:
  - name: alert
    on: {enters_tier: top}
    if: {property: owner, is_set: true}
    cooldown_hours: 12
    do:
      - webhook: {url: "${LEADSCORE_TEST_HOOK:-http://127.0.0.1:9/x}", headers: {X-Key: k}}
      - email: {to: sales@example.com, subject: Hot lead}
      - task: {for: owner, title: Call, due_in_days: 1}
      - set: {lifecycle_stage: salesqualifiedlead}
      - add_to_list: {list: hot}
"""


def _bases() -> list[Any]:
    os.environ.setdefault("SALES_HOOK_URL", "https://hooks.example.com/x")
    texts = [RICH] + [(DATA / n).read_text() for n in ("example_model.yml", "starter_model.yml")]
    for text in texts:
        parse_model(text)  # every base is valid
    return [yaml.load(t, Loader=_Loader) for t in texts]


BASES = _bases()

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=8),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(-3, 3), max_size=2),
)


def _slots(data: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) in the data, containers included."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        out.append((data, key))
        _slots(value, out)
    return out


@st.composite
def mutated(draw: st.DrawFn) -> str:
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(data, [])
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["drop", "rename", "junk", "wrap"]))
        if action == "drop":
            del container[key]
        elif action == "rename" and isinstance(container, dict):
            new = draw(st.one_of(st.text(max_size=12), st.sampled_from(["in", "not", "all", "property",
                                                                         "event", "points", "cap"])))
            container[new] = container.pop(key)
        elif action == "wrap":
            container[key] = [container[key]]
        else:
            container[key] = draw(JUNK)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([RICH, (DATA / "starter_model.yml").read_text()]))
    lines = text.splitlines(keepends=True)
    action = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate"]))
    at = draw(st.integers(0, len(lines) - 1))
    if action == "delete":
        del lines[at]
    elif action == "duplicate":
        lines.insert(at, lines[at])
    elif action == "truncate":
        lines = lines[:at]
    else:
        col = draw(st.integers(0, len(lines[at])))
        junk = draw(st.text(alphabet=" :-[]{}&*!|>'\"#%@`,?~x0", min_size=1, max_size=4))
        lines[at] = lines[at][:col] + junk + lines[at][col:]
    return "".join(lines)


def _outcome(text: str) -> None:
    try:
        validate_model(parse_model(text, "m.yml"))
    except ModelError as exc:
        assert exc.issues and any(i.severity == "error" for i in exc.issues)
        for issue in exc.issues:
            assert issue.file == "m.yml" and issue.message
            assert isinstance(issue.line, int) and issue.line >= 1, issue


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_models_give_model_error_or_model(text: str) -> None:
    _outcome(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_text_gives_model_error_or_model(text: str) -> None:
    _outcome(text)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(model_dicts())
def test_generated_valid_models_pass_validation(data: dict[str, Any]) -> None:
    loaded = parse_model(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    validate_model(loaded, contact_columns={"contact_id": "string", **CONTACT_SCHEMA},
                   event_columns={**properties.EVENT_COLUMNS, **EVENT_SCHEMA},
                   event_types=list(EVENT_TYPES))
