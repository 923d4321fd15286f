"""docs/model-reference.md documents every key and operator, and its examples are right.

Fails when a key is added to the language without a line in the reference (datasette's habit).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from leadscore.model import account_conditions, account_spec, conditions, nodes, spec, workflow_spec
from leadscore.model.loader import parse_model

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "model-reference.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "src" / "leadscore" / "data" / "example_model.yml").read_text(encoding="utf-8")

DOCUMENTED: list[type[BaseModel]] = [
    spec.ScoringModel, spec.Group, spec.Rule, conditions.EventCondition, conditions.InactivityCondition,
    spec.Decay, spec.MatrixAxis, spec.Matrix, workflow_spec.Workflow, workflow_spec.Trigger,
    workflow_spec.Action, workflow_spec.WebhookAction, workflow_spec.EmailAction, workflow_spec.TaskAction,
    workflow_spec.ListAction,
    # account models (issue 15)
    account_spec.AccountModel, account_spec.AccountRule, account_conditions.AccountEventCondition,
    account_conditions.ContactFilter, account_conditions.ContactsCondition, account_conditions.Rollup,
    account_conditions.RollupCondition, account_conditions.RoleCondition,
]


def _keys(cls: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in cls.model_fields.items()]


@pytest.mark.parametrize("operator", nodes.VALUE_OPERATORS)
def test_every_operator_is_documented_with_an_example(operator: str) -> None:
    row = re.search(rf"^\| `{operator}` \|.*\| `\{{[^|]*\b{operator}:", DOC, re.MULTILINE)
    assert row, f"docs/model-reference.md has no table row with an example for `{operator}`"


@pytest.mark.parametrize(("cls", "key"), [(c, k) for c in DOCUMENTED for k in _keys(c)],
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_every_key_is_documented(cls: type[BaseModel], key: str) -> None:
    assert f"`{key}" in DOC, f"`{key}` of {cls.__name__} is not in docs/model-reference.md"


def test_worked_example_is_the_shipped_example() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL)
    assert EXAMPLE in blocks


def test_full_models_in_the_doc_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.com/x")
    models = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL) if b.startswith("version:")]
    assert len(models) >= 2
    for text in models:
        parse_model(text)


def test_worked_example_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worked example's numbers are what the reference scorer computes."""
    from leadscore.engine.reference import score_reference

    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.com/x")
    model = parse_model(EXAMPLE).model
    t = datetime(2025, 6, 30)
    ago = [("page_view", 3, "/pricing"), ("page_view", 5, "/blog"), ("page_view", 6, "/docs"),
           ("email_open", 10, None), ("email_open", 40, None), ("email_open", 100, None),
           ("demo_request", -1, None)]
    events = [{"type": k, "occurred_at": t - timedelta(days=d), "url": u} for k, d, u in ago]
    contact = {"contact_id": "c1", "email": "dana@acme.io", "job_title": "VP Sales",
               "company_size": 200}
    score = score_reference(model, contact, events, t)
    assert (score.tier, score.groups["fit"]) == ("nurture", 15.0)
    assert f"{score.groups['engagement']:.6f}" in DOC
    assert f"**{score.total:.6f}**" in DOC and repr(score.total) in DOC
    for rule in score.rules:
        if rule.points not in (0.0, 10.0, 5.0):
            assert f"{rule.points:.6f}" in DOC, rule.name


def test_account_models_in_the_doc_parse_and_the_worked_one_is_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both account models of the reference parse; the worked one is the differential test's."""
    from tests.test_differential_accounts import WORKED

    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.com/x")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL) if "level: account" in b]
    assert len(blocks) == 2
    for text in blocks:
        assert isinstance(parse_model(text).model, account_spec.AccountModel)
    assert WORKED.strip() + "\n" in blocks
