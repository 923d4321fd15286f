"""API keys: created with a scope, stored hashed, listed by a short id, revoked, checked per request.

A key looks like ``lsk_<key_id-part><secret>``: ``lsk_`` + 43 URL-safe characters (32 random
bytes). The store keeps only its SHA-256 and the first 12 characters (``key_id``), which is all a
listing shows. Scopes are ordered: ``read`` < ``write`` < ``admin``; a key may do what its scope and
every lower scope allow.

>>> scope_allows("admin", "write"), scope_allows("read", "write")
(True, False)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "lsk_"
KEY_ID_LENGTH = 12


@dataclass(frozen=True)
class ApiKey:
    """What the store knows about a key (never the key itself)."""

    key_id: str
    name: str | None
    scope: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def scope_allows(have: str, need: str) -> bool:
    """Whether a key of scope ``have`` may call an endpoint that needs ``need``."""
    return SCOPES.index(have) >= SCOPES.index(need)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise LeadscoreError(f"unknown scope `{scope}`: choose one of {', '.join(SCOPES)}")
    return scope


_COLUMNS = "key_id, name, scope, created_at, revoked_at, last_used_at"


def create_key(store: Store, scope: str, name: str | None = None) -> tuple[ApiKey, str]:
    """Record a new key; returns its record and the key itself (shown once, never stored)."""
    _check_scope(scope)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(secret[:KEY_ID_LENGTH], name, scope, utcnow(), None, None)
    with store.transaction() as con:
        con.execute(
            "INSERT INTO api_keys (key_id, name, scope, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [key.key_id, name, scope, hash_key(secret), key.created_at],
        )
    return key, secret


def list_keys(store: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = store.con.execute(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, key_id").fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(store: Store, key_id: str) -> ApiKey:
    """Revoke a key by its id (the first characters shown by ``keys list``); idempotent."""
    with store.transaction() as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchall()
        if not rows:
            known = ", ".join(k.key_id for k in list_keys(store)) or "none"
            raise NotFoundError(f"no API key with id `{key_id}` (keys: {known}); see `leadscore keys list`")
        key = ApiKey(*rows[0])
        if key.revoked_at is None:
            now = utcnow()
            con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [now, key_id])
            key = ApiKey(key.key_id, key.name, key.scope, key.created_at, now, key.last_used_at)
    return key


def find_key(store: Store, secret: str) -> ApiKey | None:
    """The active key whose hash matches ``secret``, or None (unknown or revoked)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    row = store.con.execute(
        f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        [hash_key(secret)],
    ).fetchone()
    return ApiKey(*row) if row else None


def touch_keys(store: Store, last_used: dict[str, datetime]) -> None:
    """Record when keys were last used (batched by the server, not written per request)."""
    for key_id, when in last_used.items():
        store.con.execute(
            "UPDATE api_keys SET last_used_at = greatest(coalesce(last_used_at, ?), ?) WHERE key_id = ?",
            [when, when, key_id],
        )
