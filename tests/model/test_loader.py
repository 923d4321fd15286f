"""``model.loader``: YAML 1.2 reading, line numbers, clean key paths, and no traceback on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.loader import MAX_NODES, line_map, load_model, parse_model

from .helpers import WHEN, WHEN_LINE, one_rule

MODEL = """\
version: 1
name: lines
tiers:
  cold: 0
  hot: 50
groups:
  fit:
    cap: 40
    rules:
      - name: title
        when:
          property: job_title
          in: [CEO, CTO]
        points: 10
      - name: size
        when: {property: company_size, gte: 100}
        points: 5
workflows:
  - name: w
    on: {enters_tier: hot}
    do:
      - webhook: {url: "${HOOK_URL}"}
"""


def errors(text: str) -> list[ModelIssue]:
    with pytest.raises(ModelError) as err:
        parse_model(text, "f.yml")
    return err.value.issues


def test_lines_of_every_key_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "https://x.example")
    loaded = parse_model(MODEL, "f.yml")
    assert loaded.lines[("groups", "fit", "rules", "0", "when", "in")] == 13
    assert loaded.line_for("groups.fit.rules.1.points") == 17
    assert loaded.line_for(("groups", "fit", "rules", "1", "when", "nope")) == 16
    assert loaded.line_for("") == 1
    assert line_map(MODEL) == dict(loaded.lines)
    assert loaded.model.workflows[0].do[0].webhook is not None
    assert loaded.model.workflows[0].do[0].webhook.url == "https://x.example"


@pytest.mark.parametrize(("old", "new", "path", "line", "message"), [
    ("    cap: 40", "    capp: 40", "groups.fit.capp", 8, "unknown key `capp`"),
    ("          in: [CEO, CTO]", "          in: CEO", f"{WHEN.replace('g.', 'fit.')}.in", 13,
     "valid list"),
    ("        points: 5", "        points: five", "groups.fit.rules.1.points", 17, "number"),
    ("        points: 5", "        points: true", "groups.fit.rules.1.points", 17, "not true/false"),
    ("  hot: 50", "  hot: -1", "", 1, "strictly increasing"),
    ("      - name: size\n", "      - name: size\n        name: again\n", "groups.fit.rules.1.name", 16,
     "given twice"),
    ("      - name: size\n        when:", "      - when:", "groups.fit.rules.1.name", 15,
     "`name` is required"),
])
def test_errors_name_the_right_line(monkeypatch: pytest.MonkeyPatch, old: str, new: str, path: str,
                                    line: int, message: str) -> None:
    monkeypatch.setenv("HOOK_URL", "https://x.example")
    text = MODEL.replace(old, new)
    assert text != MODEL
    issues = [i for i in errors(text) if i.path == path or (not path and i.path == "")]
    assert issues and issues[0].line == line and message in issues[0].message, issues


def test_missing_env_variable_names_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_URL", raising=False)
    [issue] = errors(MODEL)
    assert (issue.path, issue.line) == ("workflows.0.do.0.webhook.url", 22)
    assert "`HOOK_URL` is not set" in issue.message and "${HOOK_URL:-default}" in (issue.hint or "")
    monkeypatch.setenv("HOOK_URL", "")
    assert parse_model(MODEL).model.workflows[0].do[0].webhook.url == ""  # type: ignore[union-attr]


def test_env_default() -> None:
    text = MODEL.replace("${HOOK_URL}", "${LEADSCORE_TEST_UNSET:-http://fallback}")
    assert parse_model(text).model.workflows[0].do[0].webhook.url == "http://fallback"  # type: ignore[union-attr]


def test_yaml_1_2_scalars() -> None:
    text = one_rule("{property: zip, in: [010, 12:30, 2025-01-01, yes, on, 0x1F, 0o17, 1e3, 1_000]}")
    value = parse_model(text).model.groups["g"].rules[0].when.in_  # type: ignore[union-attr]
    assert value == [10, "12:30", "2025-01-01", "yes", "on", 31, 15, 1000.0, "1_000"]


def test_workflow_on_is_a_key_not_a_boolean() -> None:
    text = one_rule("{property: job_title, equals: CEO}") + (
        "workflows:\n  - name: w\n    on: {score_above: 3}\n    do: [{add_to_list: hot}]\n")
    assert parse_model(text).model.workflows[0].on.score_above == 3


@pytest.mark.parametrize(("when", "path", "message"), [
    ("{not: {not: {property: a, in: 5}}}", "not.not.in", "valid list"),
    ("{any: [{not: {property: a, equals: [1]}}]}", "any.0.not.equals",
     "expected text, a whole number, a number or true/false; got a list"),
    ("{property: a, gt: true}", "gt", "expected a number or text; got true/false"),
    ("{property: a, gt: .nan}", "gt", "finite number"),
    ("{event: e, where: {url: {containz: x}}}", "where.url.containz", "unknown key `containz`"),
    ("{event: e, between: [-1, 3]}", "between.0", "greater than or equal to 0"),
    ("{event: e, at_least: true}", "at_least", "not true/false"),
    ("{property: company_size, between: [10, '100']}", "", "both ends of `between`"),
    ("{property: created_at, between: ['2025-02-01', '2025-01-01T23:00:00-02:00']}", "",
     "is empty"),
])
def test_condition_errors_have_file_paths(when: str, path: str, message: str) -> None:
    [issue] = errors(one_rule(when))
    assert issue.path == (f"{WHEN}.{path}" if path else WHEN)
    assert message in issue.message and issue.line == WHEN_LINE


def test_dates_in_between_compare_as_instants() -> None:
    text = one_rule("{property: created_at, between: ['2025-01-01T10:00:00+05:00', '2025-01-01T06:00:00Z']}")
    parse_model(text)  # 05:00Z ≤ 06:00Z although the text sorts the other way


@pytest.mark.parametrize(("decay", "path", "hint"), [
    ("{half_lif: 3}", "decay.half_lif", "did you mean `half_life_days`?"),
    ("{half_life_days: 0}", "decay.half_life_days", None),
    ("true", "decay", None),
])
def test_union_alternatives_make_one_issue(decay: str, path: str, hint: str | None) -> None:
    text = one_rule("{event: e}") + f"        decay: {decay}\n"
    [issue] = errors(text)
    assert issue.path == f"groups.g.rules.0.{path}" and issue.line == 9
    assert issue.hint == hint


def test_model_cap_must_not_be_negative() -> None:
    [issue] = errors(one_rule("{event: e}") + "cap: -5\n")
    assert issue.path == "cap" and issue.line == 9


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("- a\n- b\n", "must be a mapping"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: !foo x\n", "not valid YAML"),
    ("name: !!float x\n", "not valid YAML"),
    ("name: !!int 0xZZ\n", "not valid YAML"),
    ("name: !!timestamp nope\n", "`groups` is required"),
    ("name: !!binary aGk=\n", "`groups` is required"),
    ("? [a, b]\n: 1\nname: x\n", "plain name"),
    ("a: &a [*a]\nname: x\n", "contains it"),
    ("name: =\ngroups: {}\n", "at least 1"),
    ("name: x\n---\nname: y\n", "not valid YAML"),
])
def test_bad_yaml_is_a_model_error(text: str, message: str) -> None:
    issues = errors(text)
    assert any(message in i.message for i in issues), issues


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 8)]
    [issue] = errors("\n".join(lines) + "\nname: x\n")
    assert f"more than {MAX_NODES}" in issue.message


def test_load_model_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read the file"):
        load_model(tmp_path / "missing.yml")
    bad = tmp_path / "latin1.yml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ModelError, match="not UTF-8"):
        load_model(bad)


def test_forbidden_character_names_its_line() -> None:
    [issue] = errors("name: x\ngroups: \x07\n")
    assert issue.line == 2 and "#x0007" in issue.message


def test_a_lone_surrogate_escape_is_an_error_with_its_line() -> None:
    text = ('version: 1\nname: m\ngroups:\n  fit:\n    rules:\n'
            '      - {name: "x\\ud83d", when: {property: job_title, equals: CEO}, points: 1}\n')
    with pytest.raises(ModelError) as caught:
        parse_model(text, "m.yml")
    assert any(i.line == 6 and "not valid Unicode" in i.message for i in caught.value.issues)


@pytest.mark.parametrize(("where", "path"), [
    ('tiers: {cold: 0, "hot\\ud800": 30}\n', "tiers.hot\\ud800"),
    ('tiers: {cold: 0}\n', "groups.g\\udc00"),
    ('tiers: {cold: 0}\n', "groups.fit.rules.0.when.where.u\\ud800rl"),
])
def test_a_lone_surrogate_in_a_key_is_refused_like_one_in_a_value(where: str, path: str) -> None:
    group = "g\\udc00" if "g\\udc00" in path else "fit"
    when = ('{event: page_view, where: {"u\\ud800rl": {equals: x}}}' if "where" in path
            else "{property: job_title, equals: CEO}")
    text = (f'version: 1\nname: m\n{where}groups:\n  "{group}":\n    rules:\n'
            f'      - {{name: r, when: {when}, points: 1}}\n')
    with pytest.raises(ModelError) as caught:
        parse_model(text, "m.yml")
    [issue] = caught.value.issues
    assert issue.path == path and "the key is not valid Unicode" in issue.message, issue
    str(caught.value).encode("utf-8")  # the report itself prints (no surrogate in it)


def test_a_pair_of_escapes_is_the_character_the_hint_promises() -> None:
    text = ('version: 1\nname: m\ngroups:\n  fit:\n    rules:\n'
            '      - {name: "smile \\ud83d\\ude00", when: {property: job_title, equals: "\\ud83d\\ude00"}, '
            'points: 1}\n')
    model = parse_model(text, "m.yml").model
    rule = model.groups["fit"].rules[0]
    assert rule.name == "smile 😀" and rule.when.equals == "😀"  # type: ignore[union-attr]
    with pytest.raises(ModelError) as caught:
        parse_model(text.replace("\\ude00", ""), "m.yml")
    assert "\\ud83d\\ude00" in (caught.value.issues[0].hint or "")
