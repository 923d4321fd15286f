"""Checks of a parsed model against what a workspace holds: names, value types, suspicious numbers.

``model.loader`` checks a model's shape (known keys, one operator per test, ascending tiers...);
this module checks what needs the store or a view of the whole model:

* every contact property and every ``where`` property exists (with a "did you mean" hint);
* every value has the type of its column (a string on ``company_size``, ``gt`` on text, a date
  that does not parse, ``within_days`` on something that is not a date...);
* event types nobody has seen, ``matches`` patterns the SQL engines cannot run, ``email_domain``
  values that can never match, points that can never count because of a cap, unreachable tiers,
  rule names used twice (``explain`` names rules), a ``floor`` above zero.

Errors stop a run; warnings are returned for the caller to print. Every issue names the file,
the key path (``groups.fit.rules.0.when.property``), its line and, where one helps, a hint.

>>> from leadscore.model.loader import parse_model
>>> text = "name: m\\ntiers: {all: 0}\\ngroups:\\n  fit:\\n    rules:\\n      - name: t\\n" \\
...        "        when: {property: job_titel, equals: CEO}\\n        points: 5\\n"
>>> validate_model(parse_model(text))
Traceback (most recent call last):
...
leadscore.errors.ModelError: 1 error(s) in scoring model:
  <model>:7: error: at `groups.fit.rules.0.when.property`: unknown contact property `job_titel` (hint: did you mean `job_title`?)
"""  # noqa: E501

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from leadscore.errors import LeadscoreError, ModelError, ModelIssue
from leadscore.model import properties
from leadscore.model.account_spec import AccountModel, AccountRule
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    InactivityCondition,
    NotCondition,
    PropertyCondition,
    ValueTest,
)
from leadscore.model.loader import LoadedModel, line_map
from leadscore.model.nodes import DATE_OPERATORS, ORDER_OPERATORS, STRING_OPERATORS
from leadscore.model.regex import portability_problem
from leadscore.model.regex_engines import engine_regex_problem
from leadscore.model.seen_values import unseen_values
from leadscore.model.spec import Rule, ScoringModel
from leadscore.timeutil import parse_time


class ColumnSource(Protocol):
    """What validation reads of a store (``storage.Store`` is one): the model layer sits below
    storage, so it names the calls it needs rather than the class (an account model also reads the
    published contact models through ``latest_versions``, when the source has it)."""

    def columns(self, table: str) -> dict[str, str]: ...

    def event_types(self) -> list[str]: ...


__all__ = ["validate_against_store", "validate_model", "LONG_WINDOW_DAYS"]

#: A time window longer than this (ten years) is almost always a typo: a warning.
LONG_WINDOW_DAYS = 3650

Path = tuple[str, ...]

_TYPE_WORDS = {"string": "text", "number": "a number", "boolean": "true/false", "timestamp": "a date"}
_INSTEAD = {
    "string": "use equals, in, contains, starts_with, ends_with or matches",
    "number": "use equals, in, gt/gte/lt/lte or between",
    "boolean": "use equals: true or equals: false",
    "timestamp": "use within_days, older_than_days, or gt/lt/between with a date like 2025-01-01",
}


def validate_model(loaded: LoadedModel, *, contact_columns: Mapping[str, str] | None = None,
                   event_columns: Mapping[str, str] | None = None,
                   event_types: Sequence[str] | None = None, engine: str | None = None,
                   company_columns: Mapping[str, str] | None = None,
                   contact_models: Mapping[str, ScoringModel] | None = None) -> list[ModelIssue]:
    """Check ``loaded`` against the given columns (default: the built-in ones).

    ``contact_columns`` / ``event_columns`` map column name → logical type (string, number,
    boolean, timestamp), as ``Store.columns`` returns; ``event_types`` are the types seen in the
    store (the built-in ``KNOWN_EVENT_TYPES`` are always known). ``engine`` (``spark``,
    ``postgres``) also refuses what that engine cannot compute as DuckDB does: ``matches`` patterns
    outside the portable subset (``model.regex_engines``) and ``set`` actions (the contacts are the
    user's own tables there). An account model is also checked against ``company_columns`` and the
    published ``contact_models`` it reads (``model.validate_accounts``; without them, names of
    contact models go unchecked). Returns the warnings; raises ModelError carrying every error and
    warning when there is at least one error.
    """
    contact = dict(contact_columns if contact_columns is not None else properties.CONTACT_COLUMNS)
    derived = set()
    if "email" in contact:  # derived properties read `email`; a stored column of that name wins
        for name, (logical, _) in properties.DERIVED_PROPERTIES.items():
            if name not in contact:
                contact[name] = logical
                derived.add(name)
    event = dict(event_columns if event_columns is not None else properties.EVENT_COLUMNS)
    types = sorted(set(event_types or ()) | set(properties.KNOWN_EVENT_TYPES))
    if isinstance(loaded.model, AccountModel):
        from leadscore.model.validate_accounts import AccountChecker

        company = dict(company_columns if company_columns is not None else properties.COMPANY_COLUMNS)
        checker: _Checker = AccountChecker(loaded, contact, event, types, derived, company, contact_models, engine)
    else:
        checker = _Checker(loaded, contact, event, types, derived, engine)
    issues = checker.run()
    if any(i.severity == "error" for i in issues):
        raise ModelError(issues)
    return issues


def validate_against_store(loaded: LoadedModel, store: ColumnSource, engine: str | None = None, *,
                           contact_models: Mapping[str, ScoringModel] | None = None) -> list[ModelIssue]:
    """``validate_model`` with the store's real columns and the event types it holds (or those of
    an external engine's tables: a ``Backend`` is a ``ColumnSource`` too; and, for an account model,
    the company columns and the contact models published in the store, or ``contact_models``), then (a store that can be
    queried, a contact model) a warning for each text value compared with that no stored row holds
    (``seen_values``)."""
    extra: dict[str, Any] = {}
    if isinstance(loaded.model, AccountModel):
        from leadscore.model.validate_accounts import published_contact_models

        if contact_models is None and hasattr(store, "latest_versions"):
            contact_models = published_contact_models(store)
        extra = {"company_columns": store.columns("companies"), "contact_models": contact_models}
    warnings = validate_model(loaded, contact_columns=store.columns("contacts"), event_columns=store.columns("events"),
                              event_types=store.event_types(), engine=engine, **extra)
    if hasattr(store, "con") and not isinstance(loaded.model, AccountModel):  # its properties are companies'
        warnings += unseen_values(loaded, store)  # type: ignore[arg-type]
    return sorted(warnings, key=lambda i: (i.line or 0, i.path))


def _did_you_mean(name: str, known: Sequence[str], what: str) -> str:
    """The known names close to ``name`` (case aside, by spelling, or holding it), best first."""
    lower = {k.lower(): k for k in known}
    if name.lower() in lower:
        return f"did you mean `{lower[name.lower()]}`?"
    close = difflib.get_close_matches(name, known, 5, 0.6)
    words = [w for w in name.lower().replace("-", "_").split("_") if len(w) > 2]
    close += [k for k in known if k not in close and words and all(w in k.lower() for w in words)][:5 - len(close)]
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"no {what} is close to it; `leadscore columns` lists all {len(known)}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    """Walks one model, collecting issues (never stopping at the first)."""

    def __init__(self, loaded: LoadedModel, contact: dict[str, str], event: dict[str, str],
                 event_types: list[str], derived: set[str], engine: str | None = None):
        # an AccountChecker walks its model itself; the shared checks read only what both have
        self.loaded, self.model, self.engine = loaded, cast(ScoringModel, loaded.model), engine
        self.lines = dict(loaded.lines) or line_map(loaded.text)
        self.contact, self.event_types, self.derived = contact, event_types, derived
        self.event = {k: v for k, v in event.items() if k not in properties.EVENT_SYSTEM_COLUMNS}
        self.issues: list[ModelIssue] = []

    # ------------------------------------------------------------------ reporting

    def line(self, path: Path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def _at(self, base: Path, key: str) -> Path:
        """``base.key`` when the file has that key, else ``base`` (``where: {url: /x}`` shorthand)."""
        return base + (key,) if base + (key,) in self.lines else base

    def error(self, path: Path, message: str, hint: str | None = None, severity: str = "error") -> None:
        self.issues.append(ModelIssue(self.loaded.file, ".".join(path), message,
                                      line=self.line(path), hint=hint, severity=severity))

    def warn(self, path: Path, message: str, hint: str | None = None) -> None:
        self.error(path, message, hint, severity="warning")

    # ------------------------------------------------------------------ the walk

    def run(self) -> list[ModelIssue]:
        first_use: dict[str, Path] = {}
        for g, group in self.model.groups.items():
            for i, rule in enumerate(group.rules):
                path = ("groups", g, "rules", str(i))
                self.condition(rule.when, path + ("when",))
                self.rule(rule, path)
                if rule.name in first_use and first_use[rule.name][1] != g:
                    other = first_use[rule.name]
                    self.warn(path + ("name",), f"rule name `{rule.name}` is also used in group "
                              f"`{other[1]}` (line {self.line(other)})",
                              "explain output names rules: give each rule its own name")
                first_use.setdefault(rule.name, path + ("name",))
            self.group(g)
        self.totals()
        for w, workflow in enumerate(self.model.workflows):
            if workflow.if_ is not None:
                self.condition(workflow.if_, ("workflows", str(w), "if"))
            for a, action in enumerate(workflow.do):
                if action.set is not None:
                    self.set_action(action.set, ("workflows", str(w), "do", str(a), "set"))
        return sorted(self.issues, key=lambda i: (i.line or 0, i.path))

    def condition(self, cond: Condition, path: Path) -> None:
        if isinstance(cond, PropertyCondition):
            logical = self.contact.get(cond.property)
            if logical is None:
                self.error(path + ("property",), f"unknown contact property `{cond.property}`",
                           _did_you_mean(cond.property, list(self.contact), "contact properties"))
            else:
                domain = cond.property == "email_domain" and "email_domain" in self.derived
                self.value_test(cond, cond.property, logical, path, domain)
        elif isinstance(cond, EventCondition):
            self.event_condition(cond, path)
        elif isinstance(cond, InactivityCondition):
            for j, name in enumerate(cond.events or []):
                self.event_type(name, path + ("events", str(j)))
            self.window(cond.no_event_within_days, path + ("no_event_within_days",))
        elif isinstance(cond, AllCondition | AnyCondition):
            key = "all" if isinstance(cond, AllCondition) else "any"
            for j, part in enumerate(cond.all if isinstance(cond, AllCondition) else cond.any):
                self.condition(part, path + (key, str(j)))
        elif isinstance(cond, NotCondition):
            self.condition(cond.not_, path + ("not",))

    def event_condition(self, cond: EventCondition, path: Path) -> None:
        if isinstance(cond.event, str):
            self.event_type(cond.event, path + ("event",))
        else:
            for j, name in enumerate(cond.event):
                self.event_type(name, path + ("event", str(j)))
        for name, test in cond.where.items():
            where = path + ("where", name)
            if name in properties.EVENT_SYSTEM_COLUMNS:
                self.error(where, f"`{name}` describes the event itself and cannot be used in `where`",
                           "use `event:` for the type and `within_days:` for the time")
            elif name not in self.event:
                self.error(where, f"unknown event property `{name}`",
                           _did_you_mean(name, list(self.event), "event properties"))
            else:
                self.value_test(test, name, self.event[name], where, domain=False)
        if cond.within_days is not None:
            self.window(cond.within_days, path + ("within_days",))
        if cond.at_least == 0:
            self.warn(path + ("at_least",), "`at_least: 0` always holds (every count is ≥ 0)",
                      "drop the rule's condition on this event, or use at_least: 1")

    def event_type(self, name: str, path: Path) -> None:
        if name not in self.event_types:
            close = difflib.get_close_matches(name, self.event_types, 1)
            self.warn(path, f"unknown event type `{name}`: not in the store and not a built-in type",
                      (f"did you mean `{close[0]}`? " if close else "")
                      + "known types: " + ", ".join(self.event_types))

    def window(self, days: float, path: Path) -> None:
        if days > LONG_WINDOW_DAYS:
            self.warn(path, f"a window of {days:g} days is more than ten years",
                      "check for a typo; to count events of any age, leave the window out")

    # ------------------------------------------------------------------ value tests

    def value_test(self, test: ValueTest, name: str, logical: str, base: Path, domain: bool) -> None:
        """One operator on property ``name`` of type ``logical``; ``base`` holds the operator key."""
        op, value = test.operator, test.value
        path = self._at(base, op)
        kind = _TYPE_WORDS[logical]
        if op in STRING_OPERATORS and logical != "string":
            self.error(path, f"`{op}` needs a text property; `{name}` is {kind}", _INSTEAD[logical])
        elif op in ORDER_OPERATORS and logical in ("string", "boolean"):
            self.error(path, f"`{op}` compares numbers or dates; `{name}` is {kind}", _INSTEAD[logical])
        elif op in DATE_OPERATORS and logical != "timestamp":
            self.error(path, f"`{op}` measures the age of a date; `{name}` is {kind}", _INSTEAD[logical])
        elif op == "between":  # spec.py rejects low > high, comparing dates as instants
            for j, v in enumerate(value):
                self.value(v, name, logical, path + (str(j),))
        elif op in ("in", "not_in"):
            for j, v in enumerate(value):
                self.value(v, name, logical, self._at(path, str(j)))
        elif op in ("equals", "not_equals") or op in ORDER_OPERATORS:
            self.value(value, name, logical, path)
        elif op == "within_days":
            self.window(value, path)
        if op == "matches" and isinstance(value, str):
            why = portability_problem(value)
            if why is not None:
                self.error(path, f"`matches` {why}",
                           "patterns use RE2's syntax (DuckDB's engine); see docs/model-reference.md")
            elif self.engine and (why := engine_regex_problem(value, self.engine)) is not None:
                self.error(path, f"`matches`: {why}",
                           "keep to the portable subset (docs/engines.md) or score on DuckDB")
        if domain and logical == "string":
            for j, v in enumerate(value if isinstance(value, list) else [value]):
                self.domain_value(v, op, self._at(path, str(j)) if isinstance(value, list) else path)

    def value(self, value: Any, name: str, logical: str, path: Path) -> None:
        """Check one value against the column type of property ``name``."""
        problem: tuple[str, str] | None = None
        if logical == "boolean":
            if not isinstance(value, bool):
                problem = (f"`{name}` is true/false; got {value!r}", "write true or false, unquoted")
        elif isinstance(value, bool):
            problem = (f"`{name}` is {_TYPE_WORDS[logical]}, not true/false",
                       f"quote it: '{str(value).lower()}'" if logical == "string" else _INSTEAD[logical])
        elif logical == "number" and not _number(value):
            problem = (f"`{name}` is a number; got the text {value!r}", "write the number unquoted")
        elif logical == "string" and not isinstance(value, str):
            problem = (f"`{name}` is text; got the number {value!r}", f"quote it: '{value}'")
        elif logical == "number" and not math.isfinite(value):
            problem = (f"`{value}` is not a finite number", "write a plain number")
        elif logical == "timestamp":
            problem = _date_problem(value, name)
        if problem:
            self.error(path, *problem)

    def domain_value(self, value: Any, op: str, path: Path) -> None:
        """``email_domain`` is lower-case and has no ``@``: values that say otherwise are suspect."""
        if not isinstance(value, str):
            return
        if "@" in value:
            self.warn(path, f"`{value}` contains `@`, but email_domain is the part after the last @",
                      "match the part after the @" if op == "matches"
                      else f"write `{value.rsplit('@', 1)[1] or 'example.com'}`")
        letters = re.sub(r"\\.", "", value) if op == "matches" else value
        if any(c.isupper() for c in letters):
            self.warn(path, f"`{value}` has capitals: email_domain is lower-cased and so is this value",
                      f"write `{value.lower()}`" if op != "matches" else "write the pattern in lower case")

    # ------------------------------------------------------------------ rules, groups, totals

    def rule(self, rule: Rule, path: Path) -> None:
        for key in ("points", "points_per_event"):
            if getattr(rule, key) == 0:
                self.warn(path + (key,), f"rule `{rule.name}` is worth 0 points",
                          "give it points or remove it")
        if rule.decay not in (None, False) and not _decaying_leaf(rule.when):
            self.warn(path + ("decay",), f"`decay` has no effect on rule `{rule.name}`",
                      "only events matched by an event condition (not under `not`) decay")

    def group(self, g: str) -> None:
        group, path = self.model.groups[g], ("groups", g)
        if group.floor is not None and group.floor > 0:
            self.warn(path + ("floor",), f"`floor: {group.floor:g}` gives every contact at least "
                      f"{group.floor:g} points in group `{g}`, even when no rule matches",
                      "a floor bounds negative points: use 0 or less")
        if group.decay is not None and not any(
                _decaying_leaf(r.when) and r.decay is not False for r in group.rules):
            self.warn(path + ("decay",), f"`decay` of group `{g}` has no effect",
                      "only event rules decay; this group has none (or each has decay: false)")
        for i, rule in enumerate(group.rules):
            low, high = _rule_range(rule)
            rp = path + ("rules", str(i), "max" if rule.max is not None else "points"
                         if rule.points is not None else "points_per_event")
            if group.cap is not None and group.cap < high < math.inf:
                self.warn(rp, f"rule `{rule.name}` can add {high:g} but group `{g}` is capped at "
                          f"{group.cap:g} (line {self.line(path + ('cap',))}): it can never count fully",
                          "raise the cap or lower the points")
            if group.floor is not None and -math.inf < low < min(group.floor, 0.0):
                self.warn(rp, f"rule `{rule.name}` can take {low:g} but group `{g}` has floor "
                          f"{group.floor:g} (line {self.line(path + ('floor',))}): it can never count fully",
                          "lower the floor or raise the points")

    def totals(self) -> None:
        """Tiers and matrix bands that no contact can reach, and a model floor above zero."""
        model = self.model
        if model.floor is not None and model.floor > 0:
            self.warn(("floor",), f"`floor: {model.floor:g}` gives every contact at least {model.floor:g}"
                      " points, even when no rule matches", "a floor bounds negative totals: use 0 or less")
        highs = {g: _clamp(sum(max(0.0, _rule_range(r)[1]) for r in grp.rules), grp.floor, grp.cap)
                 for g, grp in model.groups.items()}
        best = _clamp(sum(highs.values()), model.floor, model.cap)
        for name, bound in list(model.tiers.items())[1:]:
            if bound > best:
                default = ("tiers",) not in self.lines
                self.warn(("tiers", name), f"{'default ' if default else ''}tier `{name}` starts at "
                          f"{bound:g} but no total can exceed {best:g}",
                          "set `tiers:` to fit this model" if default
                          else "lower the tier's bound or raise the caps")
        for axis_name in ("fit", "engagement"):
            axis = getattr(model.matrix, axis_name, None)
            if axis is None:
                continue
            ordered = sorted(axis.bands.items(), key=lambda kv: kv[1])[1:]
            for label, bound in ordered:
                if bound > highs[axis.group]:
                    self.warn(("matrix", axis_name, "bands", label), f"band `{label}` starts at "
                              f"{bound:g} but group `{axis.group}` cannot exceed {highs[axis.group]:g}",
                              "lower the band or raise the group's cap")

    def set_action(self, values: Mapping[str, Any], path: Path) -> None:
        if self.engine in ("spark", "postgres"):
            self.error(path, f"`set` changes contact properties, which live in your own tables on engine "
                       f"{self.engine}; leadscore does not write them",
                       "send the change to your CRM with a `webhook` action, or score on DuckDB")
            return
        for name, value in values.items():
            where = path + (name,)
            if name in self.derived:
                self.error(where, f"`{name}` is computed from `email` and cannot be set", "set `email`")
            elif name == "contact_id":
                self.error(where, "`contact_id` identifies the contact and cannot be set")
            elif name not in self.contact:
                self.error(where, f"unknown contact property `{name}`",
                           _did_you_mean(name, list(self.contact), "contact properties"))
            elif value is not None:
                self.value(value, name, self.contact[name], where)


def _date_problem(value: Any, name: str) -> tuple[str, str] | None:
    if not isinstance(value, str):
        return (f"`{name}` is a date; got {value!r}",
                "write a date like 2025-01-01; for an age in days use within_days / older_than_days")
    if value.strip().lower() == "now":
        return ("`now` is not allowed in a model: a run's as-of instant is not known here",
                "use within_days / older_than_days, measured from the run's as-of")
    try:
        parse_time(value)
    except LeadscoreError:
        return (f"`{value}` is not a date", "write 2025-01-01 or 2025-01-01T09:30:00Z")
    return None


def _decaying_leaf(cond: Condition, negated: bool = False) -> bool:
    """Does the condition hold an event leaf outside any ``not`` (whose matches may decay)?"""
    if isinstance(cond, EventCondition):
        return not negated
    if isinstance(cond, AllCondition | AnyCondition):
        parts = cond.all if isinstance(cond, AllCondition) else cond.any
        return any(_decaying_leaf(p, negated) for p in parts)
    if isinstance(cond, NotCondition):
        return _decaying_leaf(cond.not_, True)
    return False


def _rule_range(rule: Rule | AccountRule) -> tuple[float, float]:
    """The least and most a rule can contribute (before group clamping)."""
    if isinstance(rule, AccountRule) and rule.points_from is not None:
        bound = rule.max if rule.max is not None else math.inf
        return (-bound, bound)
    if rule.points is not None:
        return (min(0.0, rule.points), max(0.0, rule.points))
    per = rule.points_per_event or 0.0
    bound = rule.max if rule.max is not None else math.inf
    return (-bound, 0.0) if per < 0 else (0.0, bound if per > 0 else 0.0)


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if high is not None:
        value = min(value, high)
    return max(value, low) if low is not None else value
