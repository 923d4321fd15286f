"""``model.schema``: the JSON Schema editors use accepts the shipped models and rejects unknown keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # a test dependency (pyproject's `test` extra)
import pytest
import yaml

from leadscore.model.loader import _Loader, parse_model
from leadscore.model.schema import SCHEMA_ID, model_json_schema
from leadscore.model.spec import ScoringModel

from .test_mutations import RICH

DATA = Path(__file__).resolve().parents[2] / "src" / "leadscore" / "data"
MODELS = [(DATA / n).read_text() for n in ("example_model.yml", "starter_model.yml")] + [RICH]


def _yaml(text: str) -> Any:
    """YAML 1.2, as editors read it (``on:`` is a key, not ``true``)."""
    return yaml.load(text, Loader=_Loader)


def test_header_and_descriptions() -> None:
    schema = model_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID and schema["title"] and "model-reference" in schema["description"]
    json.dumps(schema)  # plain JSON
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    for cls in ("Rule", "Group", "EventCondition", "Decay", "PropertyCondition", "ValueTest"):
        for name, prop in schema["$defs"][cls]["properties"].items():
            assert prop.get("description"), f"{cls}.{name}"


def test_every_object_forbids_unknown_keys() -> None:
    schema = model_json_schema()
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name


def test_fresh_copy_each_call() -> None:
    model_json_schema()["title"] = "changed"
    assert model_json_schema()["title"] == "leadscore scoring model"


def test_matches_pydantic_keys() -> None:
    schema = model_json_schema()
    assert set(schema["properties"]) == {f.alias or n for n, f in ScoringModel.model_fields.items()}
    assert "in" in schema["$defs"]["ValueTest"]["properties"]  # by alias, as written in YAML


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(model_json_schema())


@pytest.mark.parametrize("text", MODELS, ids=["example", "starter", "rich"])
def test_shipped_models_validate(text: str) -> None:
    jsonschema.validate(_yaml(text), model_json_schema())


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: d["groups"]["fit"].update(capp=1), "capp"),
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["groups"]["fit"]["rules"][0]["when"].update(equals="x"), None),  # two operators
    (lambda d: d["groups"]["fit"]["rules"][0].update(points_per_event=1), None),  # points and per-event
    (lambda d: d["groups"]["engagement"]["decay"].update(percent_per_month=5), None),
    (lambda d: d.update(name="1st"), None),
])
def test_schema_rejects(change: Any, needle: str | None) -> None:
    data = _yaml(MODELS[0])
    change(data)
    errors = list(jsonschema.Draft202012Validator(model_json_schema()).iter_errors(data))
    assert errors
    if needle:
        assert any(needle in e.message for e in errors)


def test_where_shorthands_are_accepted() -> None:
    text = MODELS[0].replace("{url: {contains: /pricing}}", "{url: /pricing, campaign: [a, b]}")
    parse_model(text.replace("${SALES_HOOK_URL}", "http://x"))
    jsonschema.validate(_yaml(text), model_json_schema())
