"""When to try a failed delivery again: exponential backoff with jitter, then give up.

The n-th retry (n = 1 after the first failed attempt) waits::

    min(first_retry_seconds × backoff_factor^(n-1), max_retry_seconds) × (1 ± jitter)

With the defaults (10 s, ×2, at most an hour, ±20%) the waits are about 10 s, 20 s, 40 s, ...,
17 min, then an hour at a time: some 30 attempts in the 24 hours before the action is a dead
letter. Jitter spreads the retries of many actions that failed together (a receiver's outage) so
they do not all arrive again in the same second.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from leadscore.workspace import DeliverySettings


def retry_delay(attempt: int, settings: DeliverySettings, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    base = min(settings.first_retry_seconds * settings.backoff_factor ** max(attempt - 1, 0),
               settings.max_retry_seconds)
    return base * (1 + settings.jitter * rng.uniform(-1.0, 1.0))


def next_attempt_at(now: datetime, window_start: datetime, attempt: int, settings: DeliverySettings,
                    rng: random.Random) -> datetime | None:
    """When to retry after failed attempt ``attempt``, or None: the retry window is over."""
    at = now + timedelta(seconds=retry_delay(attempt, settings, rng))
    if at > window_start + timedelta(hours=settings.give_up_after_hours):
        return None
    return at
