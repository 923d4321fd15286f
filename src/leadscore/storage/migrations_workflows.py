"""Migration: the workflow tables: the transactional outbox of actions, delivery attempts, tasks for reps,
static lists and their members, workflow cooldown state, and the log of property changes made by
``set`` actions.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why these shapes:

* ``outbox`` is written in the score run's transaction (so an action exists exactly when its
  crossing does) and updated by the worker around each send. ``action_id`` doubles as the
  ``Idempotency-Key`` a receiver sees, so it must never change across retries. ``payload`` is the
  JSON body fixed at enqueue time: a retry sends the same bytes (only the signature's timestamp
  moves). Secrets and URLs are *not* stored: the worker reads them from the model version's text
  with the environment of its own process (``model``, ``model_version``, ``workflow_index``,
  ``step`` point at the action).
  ``retry_window_start`` is when the retry window (``delivery.give_up_after_hours``) began: the
  enqueue, or the last manual replay of a dead letter.
* ``delivery_attempts`` keeps one row per try, for ``leadscore deliveries show`` and debugging.
* ``workflow_state`` holds only what cooldowns need: when a workflow last fired for a contact.
* ``property_changes`` is the history of ``set``: what a workflow changed, from what, in which run.
"""

from __future__ import annotations

WORKFLOWS_MIGRATION: list[str] = [
    """CREATE TABLE outbox (
        action_id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL CHECK (kind IN ('webhook', 'email')),
        model VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        workflow VARCHAR NOT NULL, workflow_index INTEGER NOT NULL, step INTEGER NOT NULL,
        contact_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        target VARCHAR,
        payload VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMP NOT NULL,
        retry_window_start TIMESTAMP NOT NULL,
        next_attempt_at TIMESTAMP NOT NULL,
        lease_until TIMESTAMP,
        last_attempt_at TIMESTAMP,
        delivered_at TIMESTAMP,
        last_error VARCHAR
    )""",
    """CREATE TABLE delivery_attempts (
        action_id VARCHAR NOT NULL, attempt INTEGER NOT NULL,
        started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL,
        ok BOOLEAN NOT NULL, status_code INTEGER, error VARCHAR
    )""",
    """CREATE TABLE tasks (
        task_id VARCHAR PRIMARY KEY, contact_id VARCHAR NOT NULL, owner VARCHAR,
        title VARCHAR NOT NULL, notes VARCHAR, due_at TIMESTAMP,
        status VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
        model VARCHAR, workflow VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE lists (name VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE list_members (
        list VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, added_at TIMESTAMP NOT NULL,
        added_by VARCHAR, PRIMARY KEY (list, contact_id)
    )""",
    """CREATE TABLE workflow_state (
        model VARCHAR NOT NULL, workflow VARCHAR NOT NULL, contact_id VARCHAR NOT NULL,
        last_fired_at TIMESTAMP NOT NULL, PRIMARY KEY (model, workflow, contact_id)
    )""",
    """CREATE TABLE property_changes (
        contact_id VARCHAR NOT NULL, property VARCHAR NOT NULL, old_value VARCHAR,
        new_value VARCHAR, changed_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL, run_id VARCHAR
    )""",
]
