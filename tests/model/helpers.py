"""Helpers for the model tests: small model texts whose lines are known."""

from __future__ import annotations

import textwrap

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.loader import parse_model
from leadscore.model.validate import validate_model

#: A one-rule model; ``when`` sits on line 7, ``points`` on line 8.
ONE_RULE = """\
name: t
tiers: {cold: 0}
groups:
  g:
    rules:
      - name: r
        when: @WHEN
        points: @POINTS
"""
WHEN_LINE = 7
WHEN = "groups.g.rules.0.when"


def one_rule(when: str, points: float = 5) -> str:
    return ONE_RULE.replace("@WHEN", when).replace("@POINTS", f"{points:g}")


def issues_of(text: str, **columns: object) -> list[ModelIssue]:
    """Every issue (errors and warnings) of a model text, parsed then validated."""
    try:
        return validate_model(parse_model(textwrap.dedent(text), "m.yml"), **columns)  # type: ignore[arg-type]
    except ModelError as exc:
        return exc.issues


def only(issues: list[ModelIssue], path: str) -> ModelIssue:
    """The single issue at ``path`` (failing with the whole list otherwise)."""
    found = [i for i in issues if i.path == path]
    assert len(found) == 1, "\n".join(map(str, issues))
    return found[0]
