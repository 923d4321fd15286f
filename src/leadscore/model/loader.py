"""Read a model file: YAML text → ScoringModel, with every error pointing at a file, line and key path.

Why a custom YAML loader: PyYAML follows YAML 1.1, where ``on``, ``yes`` and ``no`` are booleans,
so ``on: {enters_tier: sql}`` would silently become ``True: ...``. We resolve booleans the YAML 1.2
way (only true/false) and keep the line of every node, so a pydantic error at
``groups.fit.rules.0.points`` can be reported as ``models/b2b.yml:9``.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.spec import ScoringModel


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (true/false only)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class LoadedModel:
    """A validated model plus where it came from: the text is what gets published and hashed."""

    model: ScoringModel
    text: str
    file: str

    @property
    def hash(self) -> str:
        return model_hash(self.text)


def model_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _to_python(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> Any:
    """Build plain Python data from a composed YAML node, recording the line of every path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _Loader.construct_object(_Loader(""), key_node)  # scalar keys only
            key_text = str(key)
            lines[path + (key_text,)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, path + (key_text,), lines)
            lines[path + (key_text,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(child, path + (str(i),), lines) for i, child in enumerate(node.value)]
    return _Loader("").construct_object(node)


def _substitute_env(data: Any, path: tuple[str, ...], issues: list[ModelIssue], file: str,
                    lines: dict[tuple[str, ...], int]) -> Any:
    """Fill ``${VAR}`` (or ``${VAR:-default}``) in every string; a missing variable is an error."""
    if isinstance(data, dict):
        return {k: _substitute_env(v, path + (str(k),), issues, file, lines) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute_env(v, path + (str(i),), issues, file, lines) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:
        def fill(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ.get(name)
            if value is None:
                if default is not None:
                    return default
                issues.append(ModelIssue(
                    file, ".".join(path), f"environment variable `{name}` is not set",
                    line=lines.get(path), hint=f"export {name}=... or write ${{{name}:-default}}",
                ))
                return ""
            return value
        return _ENV.sub(fill, data)
    return data


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    path = tuple(str(p) for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union tags (``property``, ``event``...), which are not keys in the file.

    A tag sits right after a field holding a condition (``when``, ``if``, ``not``) or right after
    the index of an element of ``all``/``any``.
    """
    out: list[Any] = []
    for i, part in enumerate(loc):
        prev = loc[i - 1] if i else None
        prev2 = loc[i - 2] if i > 1 else None
        after_condition_field = prev in ("when", "if", "not")
        after_list_item = isinstance(prev, int) and prev2 in ("all", "any")
        if (after_condition_field or after_list_item) and part in _TAGS:
            continue
        out.append(part)
    return tuple(out)


_TAGS = {"property", "event", "inactivity", "all", "any", "not"}


def _hint_for(error: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    if error["type"] == "extra_forbidden" and loc:
        bad = str(loc[-1])
        known = _known_keys_near(loc)
        close = difflib.get_close_matches(bad, known, n=1)
        if close:
            return f"did you mean `{close[0]}`?"
        if known:
            return f"allowed here: {', '.join(sorted(known))}"
    if error["type"] == "condition_kind":
        return "e.g. {property: job_title, in: [CEO]} or {event: page_view, within_days: 30}"
    return None


_KEYS_BY_PARENT: dict[str, list[str]] = {
    "top": list(ScoringModel.model_fields) ,
    "group": ["cap", "floor", "decay", "description", "rules"],
    "rule": ["name", "when", "points", "points_per_event", "max", "decay", "description"],
    "condition": ["property", "event", "where", "within_days", "ever", "at_least", "at_most",
                  "exactly", "between", "no_event_within_days", "events", "all", "any", "not",
                  "equals", "not_equals", "in", "not_in", "contains", "starts_with", "ends_with",
                  "matches", "gt", "gte", "lt", "lte", "is_set", "is_empty", "older_than_days"],
}


def _known_keys_near(loc: tuple[Any, ...]) -> list[str]:
    names = [str(p) for p in loc]
    if len(names) == 1:
        return _KEYS_BY_PARENT["top"]
    if "when" in names or "if" in names:
        return _KEYS_BY_PARENT["condition"]
    if "rules" in names:
        return _KEYS_BY_PARENT["rule"]
    if names[0] == "groups" and len(names) == 3:
        return _KEYS_BY_PARENT["group"]
    return []


def parse_model(text: str, file: str = "<model>") -> LoadedModel:
    """Parse and shape-check a model's YAML text; raise ModelError listing every problem found."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ModelError([ModelIssue(
            file, "", f"not valid YAML: {getattr(exc, 'problem', exc)}",
            line=mark.line + 1 if mark else None, hint="check indentation and quoting",
        )]) from exc
    if node is None:
        raise ModelError([ModelIssue(file, "", "the file is empty", hint="start from `leadscore init`")])
    lines: dict[tuple[str, ...], int] = {}
    data = _to_python(node, (), lines)
    if not isinstance(data, dict):
        raise ModelError([ModelIssue(file, "", "a model file must be a mapping (name:, groups:, ...)")])
    issues: list[ModelIssue] = []
    data = _substitute_env(data, (), issues, file, lines)
    try:
        model = ScoringModel.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = _clean_loc(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown key `{loc[-1]}`"
            issues.append(ModelIssue(
                file, ".".join(str(p) for p in loc), message,
                line=_line_for(loc, lines), hint=_hint_for(error, loc),
            ))
        raise ModelError(issues) from None
    if issues:
        raise ModelError(issues)
    return LoadedModel(model=model, text=text, file=file)


def load_model(path: str | Path) -> LoadedModel:
    """Read and shape-check one model file (store-aware checks are in ``model.validate``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError([ModelIssue(str(p), "", f"cannot read the file: {exc.strerror}")]) from exc
    return parse_model(text, str(p))
