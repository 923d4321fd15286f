"""Guessing passwords through the log-in form: throttling, device cookies, and a cap on argon2 checks.

Three rules, after OWASP's "blocking brute force attacks" and its device-cookie scheme:

- **An attempt counts before its password is checked.** Checking (argon2) takes a worker
  thread tens of milliseconds; counting a failure only afterwards let 40 parallel guesses all
  be checked against a limit of 5. ``LoginThrottle.attempt`` checks the limits and records the
  attempt in one step under a lock; a success takes it back.
- **Nobody can lock a user out of their own browser.** After a successful log-in the browser
  gets a signed device cookie (``ls_device``: a random nonce and an HMAC of it with the user
  name, keyed by a secret kept in the store's ``meta`` table). Failures for a name from browsers
  without that proof share one bucket (5 per 15 minutes), so guessing ``admin``'s password from
  anywhere soon stops; a browser that proves an earlier log-in as that name has a bucket of its
  own (5 per 15 minutes too), and the per-address limit does not apply to it. Someone guessing
  can then lock out only new browsers, never the user's own.
- **At most ``CHECKS_AT_ONCE`` password checks run at once.** Each argon2 verification takes
  64 MiB; more log-ins than that wait their turn instead of exhausting the server's memory.

The client address is the connection's peer, or the ``X-Forwarded-For`` a trusted proxy sent:
uvicorn takes it only from the addresses in ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1, ::1), the
same rule that trusts ``X-Forwarded-Proto`` for the Secure cookie. Kept in memory: one server
process owns the store, and a restart forgetting failures is acceptable.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from leadscore.storage.store import Store

DEVICE_COOKIE = "ls_device"
DEVICE_DAYS = 365
#: argon2 checks (64 MiB each) running at once; more log-ins wait
CHECKS_AT_ONCE = 4
_KEY_NAME = "web_device_key"


@dataclass(frozen=True)
class Attempt:
    """A counted attempt: its buckets and time, so a success can take it back."""

    keys: tuple[str, ...]
    at: float


class LoginThrottle:
    """Log-in attempts per user name (for browsers without a device cookie), per device cookie and
    user name, and per client address (for browsers without one), within ``window`` seconds."""

    def __init__(self, per_user: int = 5, per_client: int = 20, window: float = 900.0):
        self.per_user, self.per_client, self.window = per_user, per_client, window
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._attempts.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _buckets(self, username: str, client: str, device: str | None) -> list[tuple[str, int]]:
        name = username.lower()
        if device is not None:  # proof of an earlier log-in as this name: its own bucket, no address limit
            return [(f"d:{device}:{name}", self.per_user)]
        return [(f"u:{name}", self.per_user), (f"c:{client}", self.per_client)]

    def attempt(self, username: str, client: str, device: str | None = None) -> tuple[Attempt | None, float]:
        """Count an attempt before its password is checked: (the attempt, 0) when it may go ahead,
        else (None, seconds until it may), and nothing is counted."""
        now = time.monotonic()
        buckets = self._buckets(username, client, device)
        with self._lock:
            waits = [times[-limit] + self.window - now for key, limit in buckets
                     for times in [self._recent(key, now)] if len(times) >= limit]
            if waits:
                return None, max(waits)
            if len(self._attempts) > 100_000:
                self._attempts.clear()
            for key, _limit in buckets:
                self._recent(key, now).append(now)
        return Attempt(tuple(key for key, _ in buckets), now), 0.0

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt was no failure, and its name's (or device's) failures end."""
        with self._lock:
            for key in attempt.keys:
                if key.startswith("c:"):
                    times = self._attempts.get(key)
                    if times is not None and attempt.at in times:
                        times.remove(attempt.at)
                else:
                    self._attempts.pop(key, None)


class LoginGuard:
    """The throttle, the device-cookie key and the cap on concurrent password checks of one server."""

    def __init__(self) -> None:
        self.throttle = LoginThrottle()
        self._key: bytes | None = None
        self._checks: asyncio.Semaphore | None = None

    @property
    def checks(self) -> asyncio.Semaphore:
        """Made on first use, inside the server's event loop."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(CHECKS_AT_ONCE)
        return self._checks

    def _stored_key(self, store: Store) -> bytes | None:
        if self._key is None:
            row = store.con.execute("SELECT value FROM meta WHERE key = ?", [_KEY_NAME]).fetchone()
            self._key = bytes.fromhex(row[0]) if row else None
        return self._key

    def device_of(self, store: Store, cookie: str | None, username: str) -> str | None:
        """The device's nonce when ``cookie`` proves an earlier log-in as ``username`` here, else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        key = self._stored_key(store)
        nonce, signature = cookie.split(".")
        if key is None or not nonce or not hmac.compare_digest(signature, _sign(key, nonce, username)):
            return None
        return nonce

    def new_device_cookie(self, store: Store, username: str) -> str:
        """A device cookie for ``username`` (inside a writer job: the key is made on first use)."""
        key = self._stored_key(store)
        if key is None:
            key = secrets.token_bytes(32)
            store.con.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", [_KEY_NAME, key.hex()])
            row = store.con.execute("SELECT value FROM meta WHERE key = ?", [_KEY_NAME]).fetchone()
            key = bytes.fromhex(row[0]) if row else key
            self._key = key
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{_sign(key, nonce, username)}"


def _sign(key: bytes, nonce: str, username: str) -> str:
    return hmac.new(key, f"{nonce}\0{username.lower()}".encode(), hashlib.sha256).hexdigest()
