"""What a run on an external engine (Spark, Postgres) must bring back for a model's workflows.

The workflows of a run fire in the workspace store, with the same ``WorkflowHook`` as a DuckDB run
(``engine.backends``). The engine cannot ship the whole run back (a nightly run of 100M contacts
changes most scores through decay), so it ships the rows for which at least one of the model's
triggers holds — the same trigger SQL (``triggers.crossing_sql``), evaluated on the engine over
the run's rows — plus those contacts' rows, and their events when an ``if:`` condition reads
events. Every trigger needs a change of score or tier, so those rows are among the run's history
rows.

``set`` actions change contact properties; on an external engine the contacts are the user's
tables, which leadscore does not write, so a model with a ``set`` action is refused for that
engine (``model.validate`` with ``engine=``), by ``leadscore validate`` and before any run.
"""

from __future__ import annotations

from leadscore.engine.backends import Pull
from leadscore.model.account_spec import AccountModel, AccountWorkflow
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    InactivityCondition,
    NotCondition,
)
from leadscore.model.spec import ScoringModel
from leadscore.model.workflow_spec import Workflow
from leadscore.workflows.triggers import crossing_sql


def pull_for(model: ScoringModel | AccountModel) -> Pull | None:
    """The rows a run of ``model`` must bring back for its workflows (None: it has none). An account
    model's workflows read the companies only (an ``if:`` is refused off DuckDB)."""
    if not model.workflows:
        return None
    tests, params = [], {}
    workflows: list[Workflow | AccountWorkflow] = list(model.workflows)
    for i, workflow in enumerate(workflows):
        test, p = crossing_sql(workflow.on, f"w{i}")
        tests.append(f"({test})")
        params.update(p)
    events = not isinstance(model, AccountModel) and any(
        w.if_ is not None and reads_events(w.if_) for w in model.workflows)
    return Pull(" OR ".join(tests), params, events)


def reads_events(cond: Condition) -> bool:
    """Does the condition look at events (an event leaf or inactivity) anywhere?"""
    if isinstance(cond, EventCondition | InactivityCondition):
        return True
    if isinstance(cond, AllCondition):
        return any(reads_events(c) for c in cond.all)
    if isinstance(cond, AnyCondition):
        return any(reads_events(c) for c in cond.any)
    if isinstance(cond, NotCondition):
        return reads_events(cond.not_)
    return False

