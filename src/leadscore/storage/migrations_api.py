"""Migration: the HTTP API's tables: API keys (stored hashed, with a scope).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Only the SHA-256 of a key is stored: the key itself is 32 random bytes, so a hash without salt or
stretching is enough (nobody can guess the input), and a lookup stays one equality test. The
``key_id`` is the key's first characters, safe to show in listings and logs.
"""

from __future__ import annotations

API_MIGRATION: list[str] = [
    # No PRIMARY KEY / UNIQUE: DuckDB turns an UPDATE of an indexed table into delete + insert,
    # and last_used_at is updated often; the table holds a handful of rows.
    """CREATE TABLE api_keys (
        key_id VARCHAR NOT NULL, name VARCHAR,
        scope VARCHAR NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
        key_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP,
        last_used_at TIMESTAMP
    )""",
]
