"""Dashboard sessions: a random cookie, stored hashed, with its CSRF token and an expiry.

The cookie value is 32 random bytes; the store keeps only its SHA-256 (a copy of the store logs
nobody in). Each session has its own CSRF token, put in every form and sent by the page's
script as ``X-CSRF-Token``; a POST without the session's token is refused.

Lookups are cached for a few seconds (a page costs a dictionary lookup, not a query); everything
that ends sessions (log-out, a disabled user, a new password) goes through this process's writer
and clears the cache.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.users import User, get_user

SESSION_DAYS = 7
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(store: Store, user: User, client: str | None) -> str:
    """Record a new session for ``user`` (inside the caller's write); returns the cookie value."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    store.con.execute("DELETE FROM sessions WHERE expires_at < ?", [now])  # tidy as we go
    store.con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                      [_digest(token), user.username, secrets.token_urlsafe(24), now,
                       now + timedelta(days=SESSION_DAYS), (client or "")[:200]])
    store.con.execute("UPDATE users SET last_login_at = ? WHERE username = ?", [now, user.username])
    return token


def close_session(store: Store, token: str) -> None:
    store.con.execute("DELETE FROM sessions WHERE session_hash = ?", [_digest(token)])


class SessionCache:
    """Cookie → Session, for a few seconds; ``forget()`` after any write that ends sessions."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[Session | None, float]] = {}
        self._lock = threading.Lock()

    def find(self, store: Store, token: str) -> Session | None:
        digest = _digest(token)
        now = time.monotonic()
        with self._lock:
            cached = self._found.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        row = store.con.execute(
            "SELECT username, csrf_token FROM sessions WHERE session_hash = ? AND expires_at > ?",
            [digest, utcnow()]).fetchone()
        session = None
        if row is not None:
            user = get_user(store, row[0])
            if user is not None and user.active:
                session = Session(user, row[1])
        with self._lock:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[digest] = (session, now + CACHE_SECONDS)
        return session

    def forget(self) -> None:
        with self._lock:
            self._found.clear()
