"""Time handling shared by every layer: all instants are naive UTC ``datetime`` values.

Why naive UTC: DuckDB ``TIMESTAMP``, Spark ``TIMESTAMP_NTZ`` and Postgres ``timestamp`` all compare
naive values the same way, so one convention keeps every engine and the reference scorer in step.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from leadscore.errors import LeadscoreError

MICROS_PER_DAY = 86_400_000_000


def utcnow() -> datetime:
    """Now, as naive UTC, truncated to microseconds (what DuckDB stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime) -> datetime:
    """Convert an aware datetime to naive UTC; naive values are taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_as_of(text: str | datetime | date | None) -> datetime:
    """Parse an ``--as-of`` value at the edge (CLI, library, API): a date (``2025-01-01`` =
    midnight UTC), an ISO timestamp, ``now`` or None (now). Inside, instants are ``datetime``.

    >>> parse_as_of("2025-01-01")
    datetime.datetime(2025, 1, 1, 0, 0)
    >>> parse_as_of("2025-01-01T12:30:00+02:00")
    datetime.datetime(2025, 1, 1, 10, 30)
    """
    if text is None or (isinstance(text, str) and text.strip().lower() == "now"):
        return utcnow()
    return parse_time(text)


def parse_time(text: str | datetime | date) -> datetime:
    """A date or time a model or a file holds (``2025-01-01``, an ISO timestamp, a ``date``) as
    naive UTC; never "now"."""
    if isinstance(text, datetime):
        try:
            return to_utc_naive(text)
        except OverflowError as exc:
            raise LeadscoreError(f"the time {text} is out of range once moved to UTC") from exc
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day)
    raw = text.strip()
    try:
        return parse_iso(raw)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
        raise LeadscoreError(f"the time {text!r} is out of range once moved to UTC") from exc
    except ValueError as exc:
        raise LeadscoreError(
            f"cannot read the time {text!r}: give a date like 2025-01-01 or an ISO timestamp "
            "like 2025-01-01T09:30:00Z (naive times are UTC)"
        ) from exc


def parse_iso(text: str) -> datetime:
    """An ISO date (midnight UTC) or timestamp (``Z`` or an offset → UTC; naive is UTC).

    Raises ``ValueError``, so each caller words its own error (the CLI's ``--as-of``, the API's
    422 naming the field).
    """
    raw = text.strip()
    if len(raw) == 10:
        d = date.fromisoformat(raw)
        return datetime(d.year, d.month, d.day)
    return to_utc_naive(datetime.fromisoformat(raw.replace("Z", "+00:00")))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dw]?)\s*$", re.IGNORECASE)


def parse_duration(value: str | int | float | timedelta, what: str = "duration") -> timedelta:
    """``90d``, ``12w`` or a number of days → a positive timedelta (horizons, rolling steps).

    One parser for every command that takes a period, so ``train --horizon`` and
    ``backtest --horizon`` read the same text the same way.

    >>> parse_duration("90d")
    datetime.timedelta(days=90)
    >>> parse_duration("2w")
    datetime.timedelta(days=14)
    """
    if isinstance(value, timedelta):
        days = value.total_seconds() / 86_400
    elif isinstance(value, int | float) and not isinstance(value, bool):
        days = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise LeadscoreError(f"cannot read the {what} {value!r}: give days like 90d or weeks like 12w")
        days = float(match.group(1)) * (7 if match.group(2).lower() == "w" else 1)
    if days <= 0:
        raise LeadscoreError(f"the {what} must be longer than zero days, got {value!r}")
    return timedelta(days=days)


def epoch_micros(value: datetime) -> int:
    """Microseconds since 1970-01-01 for a naive UTC datetime (exact integer arithmetic)."""
    delta = value - datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def age_days(as_of: datetime, then: datetime) -> float:
    """Fractional days from ``then`` to ``as_of``, computed exactly as the compiled SQL does."""
    return (epoch_micros(as_of) - epoch_micros(then)) / MICROS_PER_DAY


#: clocks drift: an as-of this little ahead of this machine's clock is not "the future"
FUTURE_SLACK = timedelta(minutes=5)


def refuse_future(as_of: datetime | str | None, *, allow: bool, flag: str = "--allow-future") -> None:
    """Refuse an as-of in the future for scores that are *stored*.

    A stored score as of next year decays every event by a year that has not happened, and stays the
    contact's score (and fires its workflows) until the next run; a backtest or preview, which store
    nothing, may look ahead freely. ``allow`` (``--allow-future``) stores it anyway.
    """
    if as_of is None or allow:
        return
    when = parse_as_of(as_of)
    if when > utcnow() + FUTURE_SLACK:
        raise LeadscoreError(f"as-of {when:%Y-%m-%d %H:%M} is in the future: stored scores would count events "
                             f"as older than they are and fire workflows early; pass {flag} to store them "
                             "anyway (`preview` and `backtest` store nothing and take any date)")
