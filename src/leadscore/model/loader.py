"""Read a model file: YAML text → ScoringModel, with every error pointing at a file, line and key path.

Why a custom YAML loader: PyYAML follows YAML 1.1, where ``on``, ``yes`` and ``no`` are booleans,
so ``on: {enters_tier: sql}`` would silently become ``True: ...``. We resolve scalars the YAML 1.2
way and keep the line of every node, so a pydantic error at ``groups.fit.rules.0.points`` can be
reported as ``models/b2b.yml:9``. Pydantic's error locations are turned into key paths of the
file (union tags and member names dropped), and anything YAML can throw becomes a ModelError.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import types
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.account_conditions import ACCOUNT_TAGS
from leadscore.model.account_spec import AccountModel
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    EventCondition,
    InactivityCondition,
    NotCondition,
    PropertyCondition,
)
from leadscore.model.spec import ScoringModel

#: A model of either level: contacts (``ScoringModel``) or companies (``AccountModel``).
AnyModel = ScoringModel | AccountModel


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema: YAML 1.1 reads ``yes`` as true, ``010`` as 8,
    ``12:30`` as 750 and ``2025-01-01`` as a date. Here dates stay text (``timeutil.parse_time``)."""


_KEEP = {"tag:yaml.org,2002:null"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag in _KEEP]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _construct_number(loader: yaml.SafeLoader, node: yaml.Node) -> int | float:
    """YAML 1.2 core ints (``10``, ``0o17``, ``0x1F``) and floats (``1e3``, ``.5``, ``.inf``)."""
    text = str(loader.construct_scalar(node)).lower()  # type: ignore[arg-type]
    try:
        if node.tag.endswith(":float"):
            return float(text.replace(".inf", "inf").replace(".nan", "nan"))
        return int(text[2:], 8 if text[1] == "o" else 16) if text[:2] in ("0o", "0x") else int(text, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a {node.tag.rsplit(':', 1)[1]}", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_number)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_number)
_Loader.add_constructor("tag:yaml.org,2002:timestamp",  # `!!timestamp x` stays text, as dates do
                        lambda loader, node: str(loader.construct_scalar(node)))  # type: ignore[arg-type]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

#: A model is a few hundred nodes; this bounds what aliases (``&a``/``*a``) may expand to.
MAX_NODES = 100_000

Lines = Mapping[tuple[str, ...], int]


@dataclass(frozen=True)
class LoadedModel:
    """A validated model plus where it came from: the text is what gets published and hashed.

    ``model`` is a ``ScoringModel`` (contacts) or, for ``level: account``, an ``AccountModel``.
    ``lines`` maps every key path of the file (``("groups", "fit", "rules", "0", "points")``) to
    its 1-based line, so later checks (``model.validate``) can point at the line they complain about.
    """

    model: AnyModel
    text: str
    file: str
    lines: Lines = field(default_factory=dict, compare=False, repr=False)

    @property
    def contact_model(self) -> ScoringModel:
        """The model, which must score contacts (a ModelError says so for an account model)."""
        return contact_model(self.model, self.file)

    @property
    def hash(self) -> str:
        return model_hash(self.text)

    def line_for(self, path: str | Sequence[Any]) -> int:
        """The line of ``path`` (``"groups.fit.cap"`` or a tuple), else of its nearest ancestor."""
        parts = tuple(path.split(".")) if isinstance(path, str) else tuple(str(p) for p in path)
        lines = self.lines or line_map(self.text)
        return _line_for(parts if parts != ("",) else (), lines) or 1


def model_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def line_map(text: str) -> dict[tuple[str, ...], int]:
    """Key path → line for a model text (empty when the text is not a valid YAML mapping)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        builder = _Builder("")
        if node is not None:
            builder.build(node, ())
    except (yaml.YAMLError, ModelError, ValueError, TypeError):
        return {}
    return builder.lines


class _Builder:
    """Composed YAML nodes → plain Python data, recording the line of every key path.

    Also reports what PyYAML accepts silently but a model must not: a key given twice (the
    second would win unseen) and keys that are not plain scalars.
    """

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[tuple[str, ...], int] = {}
        self.issues: list[ModelIssue] = []
        self._constructor = _Loader("")
        self._nodes = 0
        self._open: set[int] = set()

    def _refuse(self, node: yaml.Node, path: tuple[str, ...], message: str, hint: str) -> ModelError:
        return ModelError([ModelIssue(self.file, ".".join(path), message,
                                      line=node.start_mark.line + 1, hint=hint)])

    def build(self, node: yaml.Node, path: tuple[str, ...]) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise self._refuse(node, path, f"the model expands to more than {MAX_NODES} YAML nodes",
                               "check the anchors and aliases (&name / *name)")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return _joined(self._constructor.construct_object(node))
        if id(node) in self._open:
            raise self._refuse(node, path, "an alias refers to a node that contains it",
                               "a model cannot be recursive")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, path + (str(i),)) for i, child in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: tuple[str, ...]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.append(ModelIssue(
                    self.file, ".".join(path), "a key must be a plain name, not a list or mapping",
                    line=line))
                continue
            key = _joined(self._constructor.construct_object(key_node))
            key_text = str(key)
            if key_text in seen:
                self.issues.append(ModelIssue(
                    self.file, ".".join(path + (key_text,)), f"key `{key_text}` is given twice",
                    line=line, hint=f"first given on line {seen[key_text]}; keep one"))
            seen[key_text] = line
            self.lines[path + (key_text,)] = line
            out[key] = self.build(value_node, path + (key_text,))
            self.lines[path + (key_text,)] = line
        return out


def _joined(value: Any) -> Any:
    """A string with its UTF-16 escape pairs joined: YAML's ``"\\ud83d\\ude00"`` is 😀.

    PyYAML turns each ``\\uXXXX`` into one code point, so a pair written as two escapes (what
    JSON tools emit for characters outside the BMP) arrives as two surrogates; joined here, it is
    the character. A lone surrogate stays, and ``_invalid_text`` refuses it.
    """
    if isinstance(value, str) and not value.isascii() and any("\ud800" <= ch <= "\udfff" for ch in value):
        with suppress(UnicodeDecodeError):
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    return value


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid_text(data: Any, path: tuple[str, ...], file: str, lines: Lines) -> list[ModelIssue]:
    """Strings no engine can store, keys and values alike: a lone surrogate (``"\\ud800"`` in YAML)
    passes Python but fails DuckDB's UTF-8 (and every JSON answer) half-way through a run."""
    def issue(where: tuple[str, ...], what: str) -> ModelIssue:
        return ModelIssue(file, ".".join(where), f"{what} is not valid Unicode (a lone surrogate escape such as "
                          "\\ud800)", line=lines.get(where),
                          hint="write the character itself, or both escapes of its pair (\\ud83d\\ude00 is 😀)")

    if isinstance(data, dict):
        found = []
        for k, v in data.items():
            key = str(k)
            if not _storable(key):
                found.append(issue(path + (key,), "the key"))
            found += _invalid_text(v, path + (key,), file, lines)
        return found
    if isinstance(data, list):
        return [i for n, v in enumerate(data) for i in _invalid_text(v, path + (str(n),), file, lines)]
    if isinstance(data, str) and not _storable(data):
        return [issue(path, "the text")]
    return []


#: The action fields ``${VAR}`` is filled in: where a workflow sends (a webhook's address, secret and
#: headers, an e-mail's recipient). Everywhere else it stays as written: a rule's name, a tier or a
#: condition is shown on pages and in explanations, so a ``${SMTP_PASSWORD}`` there would put the
#: server's secret in front of every reader.
ENV_FIELDS = {("webhook", "url"), ("webhook", "secret"), ("webhook", "headers"), ("email", "to")}


def environment_field(path: tuple[str, ...]) -> bool:
    """Whether ``${VAR}`` is filled at ``path`` (``workflows.N.do.M.webhook.url`` and the like)."""
    return len(path) >= 6 and path[0] == "workflows" and path[2] == "do" and (path[4], path[5]) in ENV_FIELDS


def environment_references(text: str) -> list[int]:
    """The lines of ``text`` (1-based) holding a ``${VAR}`` reference, wherever it is."""
    return [n for n, line in enumerate(text.splitlines(), 1) if _ENV.search(line)]


def _substitute_env(data: Any, path: tuple[str, ...], issues: list[ModelIssue], file: str,
                    lines: Lines) -> Any:
    """Fill ``${VAR}`` (or ``${VAR:-default}``) in the strings of the environment fields
    (``ENV_FIELDS``); a missing variable is an error. Other strings keep it as written."""
    if isinstance(data, dict):
        return {k: _substitute_env(v, path + (str(k),), issues, file, lines) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute_env(v, path + (str(i),), issues, file, lines) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data and environment_field(path):
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


def _line_for(loc: Sequence[Any], lines: Lines) -> int | None:
    path = tuple(str(p) for p in loc)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


# --------------------------------------------------------------------------- pydantic errors → issues

#: Union tags pydantic puts in an error's location after a field holding a ``Condition``.
_TAG_CLASSES: dict[str, type[BaseModel]] = {
    "property": PropertyCondition, "event": EventCondition, "inactivity": InactivityCondition,
    "all": AllCondition, "any": AnyCondition, "not": NotCondition,
}
#: The same for account models' conditions (their events, all/any/not are account classes).
_ACCOUNT_TAG_CLASSES: dict[str, type[BaseModel]] = {tag: cls for cls, tag in ACCOUNT_TAGS.items()}


def model_class(data: Any) -> type[ScoringModel] | type[AccountModel]:
    """The class a model file's data is read with: ``level: account`` scores companies."""
    return AccountModel if isinstance(data, dict) and data.get("level") == "account" else ScoringModel


def contact_model(model: AnyModel, file: str = "<model>") -> ScoringModel:
    """``model`` if it scores contacts; an account model is a ModelError naming where it came from."""
    if isinstance(model, AccountModel):
        raise ModelError([ModelIssue(file, "level", f"`{model.name}` is an account model (level: account): "
                                     "this needs a model of contacts")])
    return model


def _drop_tags(loc: Sequence[Any]) -> list[Any]:
    """Drop the condition tags (``property``, ``event``...), which are not keys in the file.

    A tag follows a condition slot: the fields ``when``/``if``/``not`` and an item of ``all``/``any``.
    The slot's own field name repeats the tag for ``not``/``all``/``any``
    (``when.not.not.property.in`` is the file's ``when.not.in``), so a small state machine is needed.
    """
    out: list[Any] = []
    slot = False  # the next part may be a tag
    in_list = False  # the previous part was all/any: the next is an index, then a slot
    in_roles = False  # the previous part was `roles` (account models): the next is a role name, a slot
    for i, part in enumerate(loc):
        if slot and (part in _TAG_CLASSES or part in _ACCOUNT_TAG_CLASSES):
            slot = False
            continue
        out.append(part)
        if (in_list and isinstance(part, int)) or in_roles:
            slot, in_list, in_roles = True, False, False
        else:
            slot, in_list = part in ("when", "if", "not"), part in ("all", "any")
            in_roles = part == "roles" and i == 0
    return out


def _clean_loc(loc: Sequence[Any], data: Any, keep_last: bool) -> tuple[Any, ...]:
    """The error location as a key path of the file.

    Besides condition tags, pydantic names union members (``str``, ``literal[False]``,
    ``function-after[_one_kind(), Decay]``); walking the data drops every part that is not a key
    or index in it. ``keep_last`` keeps a final part that is absent by nature (a missing key).
    """
    out: list[Any] = []
    parts = _drop_tags(loc)
    for i, part in enumerate(parts):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif keep_last and i == len(parts) - 1:
            pass
        else:
            continue
        out.append(part)
    return tuple(out)


def _members(tp: Any) -> list[Any]:
    """The alternatives of a (possibly Annotated / Optional) union, None left out."""
    if get_origin(tp) is Annotated:
        return _members(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [] if tp is type(None) else [tp]


def _keys_at(loc: Sequence[Any], root: type[BaseModel] = ScoringModel) -> list[str]:
    """The keys allowed in the mapping holding ``loc[-1]``, by walking the spec classes along
    pydantic's raw error location (whose tags and member names say which union member it is)."""
    tp: Any = root
    tags = _ACCOUNT_TAG_CLASSES if root is AccountModel else _TAG_CLASSES
    for part in loc[:-1]:
        options = _members(tp)
        models = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
        if len(options) > 1 and isinstance(part, str):
            chosen = [m for m in models if tags.get(part) is m or part == m.__name__
                      or part.endswith(f", {m.__name__}]")]
            if chosen:
                tp = chosen[0]
                continue
        if len(models) == 1:
            fields = {f.alias or name: f for name, f in models[0].model_fields.items()}
            if part not in fields:
                return []
            tp = fields[part].annotation
        elif any(get_origin(o) in (dict, list) for o in options):
            container = next(o for o in options if get_origin(o) in (dict, list))
            tp = get_args(container)[-1]
        else:
            return []
    models = [o for o in _members(tp) if isinstance(o, type) and issubclass(o, BaseModel)]
    if len(models) != 1:
        return []
    return [f.alias or name for name, f in models[0].model_fields.items()]


def _hint_for(error: Mapping[str, Any], root: type[BaseModel] = ScoringModel) -> str | None:
    if error["type"] == "extra_forbidden" and error["loc"]:
        known = _keys_at(error["loc"], root)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        if close or known:
            return f"did you mean `{close[0]}`?" if close else f"allowed here: {', '.join(sorted(known))}"
    if error["type"] == "condition_kind":
        return "e.g. {property: job_title, in: [CEO]} or {event: page_view, within_days: 30}"
    return None


#: How pydantic's messages for the members of a failed union read in a combined message.
_ALTERNATIVES = {
    "Input should be a valid string": "text", "Input should be a valid integer": "a whole number",
    "Input should be a valid number": "a number", "expected a number, not true/false": "a number",
    "Input should be a finite number": "a finite number", "Input should be a valid boolean": "true/false",
    "Input should be a valid list": "a list", "Input should be a valid dictionary": "a mapping",
    "Input should be False": "false",
}
_KINDS = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
          float: "a number", type(None): "nothing"}


def _issues_from(exc: ValidationError, data: Any, file: str, lines: Lines,
                 root: type[BaseModel] = ScoringModel) -> list[ModelIssue]:
    """One issue per key path: the alternatives of a union that all failed become one message."""
    found: dict[str, tuple[list[str], Any, tuple[Any, ...]]] = {}
    for error in exc.errors():
        kind = error["type"]
        loc = _clean_loc(error["loc"], data, keep_last=kind in ("missing", "extra_forbidden"))
        message = {"extra_forbidden": f"unknown key `{loc[-1] if loc else ''}`",
                   "missing": f"`{loc[-1] if loc else ''}` is required here"}.get(
            kind, error["msg"].removeprefix("Value error, "))
        key = ".".join(str(p) for p in loc)
        messages = found.setdefault(key, ([], error, loc))[0]
        if message not in messages:
            messages.append(message)
    issues = []
    for key, (messages, error, loc) in found.items():
        # a union member failing deeper (decay.half_life_days) says more than its siblings here
        if any(other.startswith(key + ".") or (not key and other) for other in found) and len(
                _drop_tags(error["loc"])) > len(loc):
            continue
        message = messages[0]
        if len(messages) > 1:
            plain = [m.split(" or instance of ")[0] for m in messages]
            alternatives = list(dict.fromkeys(_ALTERNATIVES.get(m, m) for m in plain))
            got = _KINDS.get(type(error.get("input")), "something else")
            message = f"expected {', '.join(alternatives[:-1])} or {alternatives[-1]}; got {got}"
        issues.append(ModelIssue(file, key, message, line=_line_for(loc, lines),
                                 hint=_hint_for(error, root)))
    return issues


def _not_yaml(text: str, file: str, exc: Exception) -> ModelError:
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        line, problem = text.count("\n", 0, exc.position) + 1, f"the character #x{code:04x} is not allowed"
    else:
        line, problem = (mark.line + 1 if mark else 1), getattr(exc, "problem", None) or str(exc)
    return ModelError([ModelIssue(file, "", f"not valid YAML: {problem}", line=line,
                                  hint="check indentation and quoting")])


def parse_model(text: str, file: str = "<model>", *, environment: bool = True) -> LoadedModel:
    """Parse and shape-check a model's YAML text; raise ModelError listing every problem found.

    ``${VAR}`` is filled only in a workflow action's environment fields (``ENV_FIELDS``).
    ``environment=False`` leaves every ``${VAR}`` as written: for text that arrives in a request
    (the API's validate, preview and backtest), whose sender must not be able to read the server's
    environment back through the parsed model or an error message.
    """
    builder = _Builder(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = builder.build(node, ()) if node is not None else None
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # bad syntax, unknown !tag, bad !!int
        raise _not_yaml(text, file, exc) from exc
    except RecursionError:
        raise ModelError([ModelIssue(file, "", "the text is nested too deeply to be a model", line=1,
                                     hint="a model is a few levels of mappings and lists")]) from None
    if node is None:
        raise ModelError([ModelIssue(file, "", "the file is empty", line=1,
                                     hint="start from `leadscore init`")])
    lines = builder.lines
    if not isinstance(data, dict):
        raise ModelError([ModelIssue(file, "", "a model file must be a mapping (name:, groups:, ...)",
                                     line=lines.get((), 1))])
    unstorable = _invalid_text(data, (), file, lines)
    if unstorable:  # nothing else is checked: every later message would carry the bad text along
        raise ModelError(sorted(unstorable, key=lambda i: i.line or 0))
    issues = list(builder.issues)
    if environment:
        data = _substitute_env(data, (), issues, file, lines)
    cls = model_class(data)
    try:
        model = cls.model_validate(data)
    except ValidationError as exc:
        issues.extend(_issues_from(exc, data, file, lines, cls))
        raise ModelError(sorted(issues, key=lambda i: i.line or 0)) from None
    if issues:
        raise ModelError(sorted(issues, key=lambda i: i.line or 0))
    return LoadedModel(model=model, text=text, file=file, lines=lines)


def load_model(path: str | Path) -> LoadedModel:
    """Read and shape-check one model file (store-aware checks are in ``model.validate``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError([ModelIssue(str(p), "", f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ModelError([ModelIssue(str(p), "", f"the file is not UTF-8 text: {exc.reason} at byte "
                                     f"{exc.start}", hint="save it as UTF-8")]) from exc
    return parse_model(text, str(p))
