"""Migration: the dashboard's tables: human users, their sessions, feedback on scores, saved drafts.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why these shapes:

* ``users`` are people who log in to the dashboard, separate from machine API keys. Only an
  argon2 hash of the password is stored. ``owner_value`` is what the contacts' ``owner`` property
  holds for this person's leads; ``manager`` lets a rep see every lead. Disabled users are kept
  (``disabled_at``), so feedback and published versions still name who made them.
* ``sessions`` hold the SHA-256 of the session cookie (a stolen copy of the store does not log
  anyone in) and the session's CSRF token. A session ends at ``expires_at``, on logout, or when its
  user is disabled or given a new password (rows deleted).
* ``feedback`` is a rep's (or a CRM's, through the API) verdict on a score: right / too high /
  too low, an optional reason and outcome, with the model version, score and tier it was given
  on, and the rules that had fired then (JSON), so a later model change does not rewrite what the
  rep was looking at.
* ``model_drafts`` keeps one saved draft text per model name: work in progress in the editor,
  never scored until it is published.

No PRIMARY KEY or UNIQUE constraints: DuckDB turns an UPDATE of an indexed row into a delete and
an insert checked against the index, which fails inside one transaction; the tables are small and
written by one writer thread that keeps names unique (``leadscore/users.py``).
"""

from __future__ import annotations

USERS_MIGRATION: list[str] = [
    """CREATE TABLE users (
        username VARCHAR NOT NULL,
        role VARCHAR NOT NULL CHECK (role IN ('rep', 'marketing', 'admin')),
        owner_value VARCHAR,
        manager BOOLEAN NOT NULL DEFAULT false,
        password_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        password_changed_at TIMESTAMP NOT NULL,
        disabled_at TIMESTAMP,
        last_login_at TIMESTAMP
    )""",
    """CREATE TABLE sessions (
        session_hash VARCHAR NOT NULL,
        username VARCHAR NOT NULL,
        csrf_token VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        client VARCHAR
    )""",
    """CREATE TABLE feedback (
        feedback_id VARCHAR NOT NULL,
        contact_id VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        model_version INTEGER NOT NULL,
        score DOUBLE NOT NULL,
        tier VARCHAR NOT NULL,
        verdict VARCHAR NOT NULL CHECK (verdict IN ('right', 'too_high', 'too_low')),
        reason VARCHAR,
        outcome VARCHAR CHECK (outcome IN ('not_a_fit', 'already_customer', 'converted')),
        rules_fired VARCHAR,
        author VARCHAR NOT NULL,
        source VARCHAR NOT NULL CHECK (source IN ('dashboard', 'api')),
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE model_drafts (
        model VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        saved_by VARCHAR NOT NULL,
        saved_at TIMESTAMP NOT NULL
    )""",
]
