"""Checks of an account model against a workspace: company properties, roles, the contact models
it rolls up (published, with those tiers and groups), plus the contact checks of its roles and
contact filters (``model.validate``'s, reused).

Errors name the file, line and key path like every model error; warnings (an unused role, a
``decay`` on a roll-up) are returned for the caller to print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.account_conditions import (
    MAX_GATED_LEAVES,
    AccountCondition,
    AccountEventCondition,
    ContactFilter,
    ContactsCondition,
    RoleCondition,
    Rollup,
    RollupCondition,
)
from leadscore.model.account_spec import AccountModel, AccountRule
from leadscore.model.account_walk import leaves, roles_used
from leadscore.model.conditions import InactivityCondition, PropertyCondition
from leadscore.model.loader import LoadedModel, parse_model
from leadscore.model.spec import ScoringModel
from leadscore.model.validate import Path, _Checker, _did_you_mean


def published_contact_models(store: Any) -> dict[str, ScoringModel]:
    """The latest published version of every contact model of ``store`` (a ``Store``), by name.

    Versions whose text this build cannot read are left out (their own runs report them)."""
    found: dict[str, ScoringModel] = {}
    for version in store.latest_versions():
        try:
            model = parse_model(version.text, version.file or version.model, environment=False).model
        except ModelError:
            continue
        if isinstance(model, ScoringModel):
            found[version.model] = model
    return found


class AccountChecker(_Checker):
    """Walks one account model, collecting issues (never stopping at the first)."""

    def __init__(self, loaded: LoadedModel, contact: dict[str, str], event: dict[str, str],
                 event_types: list[str], derived: set[str], company: dict[str, str],
                 contact_models: Mapping[str, ScoringModel] | None, engine: str | None = None):
        super().__init__(loaded, contact, event, event_types, derived, engine)
        assert isinstance(loaded.model, AccountModel)
        self.account: AccountModel = loaded.model
        self.company = company
        self.contact_models = contact_models

    def run(self) -> list[ModelIssue]:
        model = self.account
        for name, cond in model.roles.items():
            self.condition(cond, ("roles", name))
        used = {role for _, role in roles_used(model)}
        for path, role in roles_used(model):
            if role not in model.roles:
                self.error(path, f"unknown role `{role}`",
                           _did_you_mean(role, list(model.roles), "roles") if model.roles
                           else "define it under `roles:` (e.g. decision_maker: {property: job_title, in: [CEO]})")
        for name in model.roles:
            if name not in used:
                self.warn(("roles", name), f"role `{name}` is defined but no rule uses it")
        for g, group in model.groups.items():
            for i, rule in enumerate(group.rules):
                path = ("groups", g, "rules", str(i))
                if rule.when is not None:
                    self.account_condition(rule.when, path + ("when",))
                if rule.points_from is not None:
                    self.rollup(rule.points_from, path + ("points_from",))
                self.account_rule(rule, path)
            self.account_group(g)
        self.model = self.account  # type: ignore[assignment]  # totals() reads tiers, groups, caps
        self.totals()
        for w, workflow in enumerate(model.workflows):
            if workflow.if_ is not None:
                self.account_condition(workflow.if_, ("workflows", str(w), "if"))
                if self.engine in ("spark", "postgres"):  # evaluated on the store's contacts and events
                    self.error(("workflows", str(w), "if"), f"an account workflow's `if:` is evaluated on the "
                               f"workspace store, not on engine {self.engine}",
                               hint="drop the `if:` (fold it into the trigger's tier) or score this model on DuckDB")
        return sorted(self.issues, key=lambda i: (i.line or 0, i.path))

    # ------------------------------------------------------------------ conditions

    def account_condition(self, cond: AccountCondition, path: Path) -> None:
        for leaf_path, leaf, _ in leaves(cond, path):
            if isinstance(leaf, PropertyCondition):
                logical = self.company.get(leaf.property)
                if logical is None:
                    self.error(leaf_path + ("property",), f"unknown company property `{leaf.property}`",
                               _did_you_mean(leaf.property, list(self.company), "company properties"))
                else:
                    self.value_test(leaf, leaf.property, logical, leaf_path, domain=False)
            elif isinstance(leaf, AccountEventCondition):
                self.event_condition(leaf, leaf_path)
            elif isinstance(leaf, InactivityCondition):
                self.condition(leaf, leaf_path)
            elif isinstance(leaf, ContactsCondition):
                self.contact_filter(leaf.contacts, leaf_path + ("contacts",))
            elif isinstance(leaf, RollupCondition):
                self.rollup(leaf.rollup, leaf_path + ("rollup",))
            elif isinstance(leaf, RoleCondition):
                for j, name in enumerate(leaf.events or []):
                    self.event_type(name, leaf_path + ("events", str(j)))
            else:  # pragma: no cover - leaves() yields every leaf class above
                raise AssertionError(type(leaf).__name__)

    def contact_filter(self, f: ContactFilter, path: Path) -> None:
        if f.when is not None:
            self.condition(f.when, path + ("when",))
        if f.model is not None:
            model = self.contact_model(f.model, path + ("model",))
            if model is not None:
                self.tiers(f.tiers, model, f.model, path + ("tier",))

    def rollup(self, r: Rollup, path: Path) -> None:
        model = self.contact_model(r.model, path + ("model",))
        if model is None:
            return
        if r.group is not None and r.group not in model.groups:
            self.error(path + ("group",), f"`{r.group}` is not a group of contact model `{r.model}`",
                       _did_you_mean(r.group, list(model.groups), "groups"))
        self.tiers(r.tiers or [], model, r.model, path + ("tiers",))

    def contact_model(self, name: str, path: Path) -> ScoringModel | None:
        """The published contact model ``name`` (None when unknown or not checkable here)."""
        if self.contact_models is None:
            return None
        found = self.contact_models.get(name)
        if found is None:
            known = list(self.contact_models)
            self.error(path, f"`{name}` is not a published contact model",
                       (_did_you_mean(name, known, "published contact models") + "; " if known else "")
                       + f"publish it first: leadscore publish models/{name}.yml")
        return found

    def tiers(self, names: Sequence[str], model: ScoringModel, model_name: str, path: Path) -> None:
        for name in names:
            if name not in model.tiers:
                self.error(path, f"`{name}` is not a tier of contact model `{model_name}`",
                           _did_you_mean(name, list(model.tiers), "tiers"))

    # ------------------------------------------------------------------ rules and groups

    def account_rule(self, rule: AccountRule, path: Path) -> None:
        if rule.when is not None and rule.points_from is None:
            self.gated_leaves(rule.when, path + ("when",))
        for key in ("points", "points_per_event", "factor"):
            if getattr(rule, key) == 0:
                self.warn(path + (key,), f"rule `{rule.name}` is worth 0 points", "give it points or remove it")
        if rule.decay not in (None, False) and (rule.points_from is not None or not _decaying(rule.when)):
            self.warn(path + ("decay",), f"`decay` has no effect on rule `{rule.name}`",
                      "only events matched by an event condition (not under `not`) decay; roll-ups never do")

    def gated_leaves(self, cond: AccountCondition, path: Path) -> None:
        """At most ``MAX_GATED_LEAVES`` different role gates on a rule's event conditions (not under
        ``not``): the count of matched events the compiler builds enumerates their combinations, so
        ``publish`` and explain refuse more; refused here too, so ``validate`` agrees with them."""
        gates = list(dict.fromkeys(tuple(leaf.roles) for _, leaf, negated in leaves(cond, path)
                                   if isinstance(leaf, AccountEventCondition) and leaf.role is not None
                                   and not negated))
        if len(gates) > MAX_GATED_LEAVES:
            self.error(path, f"{len(gates)} event conditions with different roles in one rule "
                       f"({', '.join('/'.join(g) for g in gates)}); at most {MAX_GATED_LEAVES}",
                       "give the events one `role:` listing several roles (e.g. role: [cto, ceo]), or split "
                       "the rule into rules of at most 3 roles each")

    def account_group(self, g: str) -> None:
        group, path = self.account.groups[g], ("groups", g)
        if group.floor is not None and group.floor > 0:
            self.warn(path + ("floor",), f"`floor: {group.floor:g}` gives every company at least "
                      f"{group.floor:g} points in group `{g}`, even when no rule matches",
                      "a floor bounds negative points: use 0 or less")
        if group.decay is not None and not any(
                r.points_from is None and _decaying(r.when) and r.decay is not False for r in group.rules):
            self.warn(path + ("decay",), f"`decay` of group `{g}` has no effect",
                      "only event rules decay; this group has none (or each has decay: false)")


def _decaying(cond: AccountCondition | None) -> bool:
    """Does the condition hold an account event leaf outside any ``not``?"""
    if cond is None:
        return False
    return any(isinstance(leaf, AccountEventCondition) and not negated for _, leaf, negated in leaves(cond, ()))


__all__ = ["AccountChecker", "published_contact_models"]
