"""Workflows: what happens when a score crosses a line.

Pipeline (one module per step)::

    score run (leadscore.scoring -> engine) --on_written--> hook.WorkflowHook
        triggers.py   which contacts each workflow fires for (crossing, `if`, cooldown), in SQL
        effects.py    task / set / add_to_list / remove_from_list, in the run's transaction
        outbox.py     webhook / email rows, in the run's transaction
    worker.py         claims due outbox rows and sends them (senders.py), retries (retry.py)
    signing.py        Leadscore-Signature: HMAC-SHA256 for webhook receivers
    tasks.py, lists.py  what the API and CLI read back

See docs/workflows.md.
"""

from leadscore.workflows.hook import WorkflowHook, WorkflowStats
from leadscore.workflows.lists import list_members, list_names
from leadscore.workflows.tasks import list_tasks

__all__ = ["WorkflowHook", "WorkflowStats", "list_members", "list_names", "list_tasks"]
