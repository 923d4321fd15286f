"""Walking an account model: its condition leaves with their key paths, and the names they use.

The compiler, the reference scorer and validation all need "every leaf of this condition, and
whether it sits under a ``not``", and "which contact models and roles does this model use": one
walk, here, so the three agree on what a model refers to.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from leadscore.model.account_conditions import (
    AccountAll,
    AccountAny,
    AccountCondition,
    AccountEventCondition,
    AccountNot,
    ContactFilter,
    ContactsCondition,
    RoleCondition,
    Rollup,
    RollupCondition,
)

if TYPE_CHECKING:
    from leadscore.model.account_spec import AccountModel

Path = tuple[str, ...]


def leaves(cond: AccountCondition, path: Path, negated: bool = False) -> Iterator[tuple[Path, Any, bool]]:
    """Every leaf of ``cond`` (not all/any/not) with its key path and whether any ``not`` is above it."""
    if isinstance(cond, AccountAll | AccountAny):
        key, parts = ("all", cond.all) if isinstance(cond, AccountAll) else ("any", cond.any)
        for i, part in enumerate(parts):
            yield from leaves(part, path + (key, str(i)), negated)
    elif isinstance(cond, AccountNot):
        yield from leaves(cond.not_, path + ("not",), True)
    else:
        yield path, cond, negated


def model_conditions(model: AccountModel) -> Iterator[tuple[Path, AccountCondition]]:
    """Every account condition of the model (rules' ``when``, workflows' ``if``) with its path."""
    for g, group in model.groups.items():
        for i, rule in enumerate(group.rules):
            if rule.when is not None:
                yield ("groups", g, "rules", str(i), "when"), rule.when
    for w, workflow in enumerate(model.workflows):
        if workflow.if_ is not None:
            yield ("workflows", str(w), "if"), workflow.if_


def model_rollups(model: AccountModel) -> Iterator[tuple[Path, Rollup]]:
    """Every roll-up of the model (``points_from`` and roll-up conditions) with its path."""
    for g, group in model.groups.items():
        for i, rule in enumerate(group.rules):
            if rule.points_from is not None:
                yield ("groups", g, "rules", str(i), "points_from"), rule.points_from
    for path, cond in model_conditions(model):
        for leaf_path, leaf, _ in leaves(cond, path):
            if isinstance(leaf, RollupCondition):
                yield leaf_path + ("rollup",), leaf.rollup


def model_filters(model: AccountModel) -> Iterator[tuple[Path, ContactFilter]]:
    """Every contact filter (``contacts:`` of a count condition) with its path."""
    for path, cond in model_conditions(model):
        for leaf_path, leaf, _ in leaves(cond, path):
            if isinstance(leaf, ContactsCondition):
                yield leaf_path + ("contacts",), leaf.contacts


def referenced_models(model: AccountModel) -> list[str]:
    """The contact models the account model reads, in order of first use."""
    names = [r.model for _, r in model_rollups(model)]
    names += [f.model for _, f in model_filters(model) if f.model is not None]
    return list(dict.fromkeys(names))


def roles_used(model: AccountModel) -> Iterator[tuple[Path, str]]:
    """Every role name the model's rules and workflows refer to, with where."""
    for path, rollup in model_rollups(model):
        for j, role in enumerate(rollup.roles or []):
            yield path + ("roles", str(j)), role
        for role in rollup.weights or {}:
            yield path + ("weights", role), role
    for path, cond in model_conditions(model):
        for leaf_path, leaf, _ in leaves(cond, path):
            if isinstance(leaf, ContactsCondition):
                for role in leaf.contacts.roles:
                    yield leaf_path + ("contacts", "role"), role
            elif isinstance(leaf, AccountEventCondition):
                for role in leaf.roles:
                    yield leaf_path + ("role",), role
            elif isinstance(leaf, RoleCondition):
                yield leaf_path + ("role",), leaf.role
