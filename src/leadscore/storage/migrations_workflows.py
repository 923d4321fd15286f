"""Migration: the workflow tables: the transactional outbox of actions, delivery attempts, tasks for reps,
static lists and their members, and workflow cooldown state.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.
"""

from __future__ import annotations

WORKFLOWS_MIGRATION: list[str] = []
