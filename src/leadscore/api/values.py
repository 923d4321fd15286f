"""Request values checked against the store's columns, and event ids made the importer's way.

The API never adds a column: a property name must already be a column of ``contacts`` (for
``PUT /contacts``) or ``events`` (for an event's ``properties``), and its value must fit the
column's type. Everything wrong in a request is collected and answered at once, as a 422 whose
``detail`` has one entry per bad field (FastAPI's shape: ``loc``, ``msg``, ``type``), so a client
fixes all of it in one go. Adding a column is an import's job (``leadscore import`` adds custom
columns), done while the server is stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadscore.api.schemas import EventIn, clean_text
from leadscore.errors import LeadscoreError
from leadscore.storage.identity import EVENT_ID_PREFIX, generated_id, owner
from leadscore.storage.types import type_kind
from leadscore.timeutil import parse_iso, to_utc_naive

Loc = tuple[str | int, ...]

#: event fields that live at the top level of an event, never in its ``properties``
EVENT_TOP_LEVEL = ("event_id", "contact_id", "email", "type", "occurred_at")
INT_RANGE = (-(2**63), 2**63 - 1)


class InvalidInput(LeadscoreError):
    """A request the store cannot take as is; ``errors`` names every bad field (HTTP 422)."""

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def problem(loc: Loc, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def storable_text(value: str) -> bool:
    """Whether a string can be stored (``schemas.clean_text``'s rule: no NUL, and valid Unicode,
    no lone surrogate from a browser cutting an emoji in half)."""
    try:
        clean_text(value)
    except ValueError:
        return False
    return True


#: The years a time may fall in: a backtest adds its horizon and steps back its rolling dates,
#: and near year 1 or 9999 that overflows Python's datetime (a 500 instead of a clear 422).
AS_OF_YEARS = (1900, 2200)
_YEARS_MSG = f"must fall between the years {AS_OF_YEARS[0]} and {AS_OF_YEARS[1]}"


def _in_years(when: datetime) -> bool:
    return AS_OF_YEARS[0] <= when.year <= AS_OF_YEARS[1]


#: How far ahead of the server's clock an event may be dated: client clocks drift, and a slightly
#: early timestamp is taken as "now" so the event counts in the score the response carries.
FUTURE_SKEW = timedelta(minutes=5)


def event_time(value: datetime | None, now: datetime, loc: Loc) -> tuple[datetime, dict[str, Any] | None]:
    """An event's time as naive UTC (``now`` when absent), or the problem with it.

    Within ``FUTURE_SKEW`` ahead of ``now`` it becomes ``now``: rescored at once, an event "from the
    future" would be invisible to the very score the response returns. Further ahead, or outside
    the years leadscore takes, it is refused.
    """
    if value is None:
        return now, None
    try:
        when = to_utc_naive(value)
    except OverflowError:
        return now, problem(loc, "out of range")
    if not _in_years(when):
        return now, problem(loc, _YEARS_MSG)
    if when > now + FUTURE_SKEW:
        return now, problem(loc, f"is {when:%Y-%m-%d %H:%M:%S} UTC, more than {FUTURE_SKEW.seconds // 60} "
                                 "minutes after the server's clock: events are recorded once they happened")
    return min(when, now), None


def coerce(value: Any, duck_type: str) -> Any:
    """``value`` as the column of ``duck_type`` stores it; ValueError says what was expected."""
    if value is None:
        return None
    kind = type_kind(duck_type)
    if kind in ("string", "other"):  # other: DuckDB casts the text on insert (a UUID, say)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError("expected a string, got a non-finite number")
            return str(value)
        if isinstance(value, str):
            if not storable_text(value):
                raise ValueError("text with a NUL character or a lone surrogate cannot be stored")
            return value
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                raise ValueError("integer out of range (64-bit)")
            return value
        raise ValueError(f"expected an integer, got {json.dumps(value)[:60]}")
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > 1.7e308:
                raise ValueError("expected a finite number")
            return float(value)
        raise ValueError(f"expected a number, got {json.dumps(value)[:60]}")
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {json.dumps(value)[:60]}")
    elif kind == "timestamp":
        if isinstance(value, str):
            try:
                parsed = parse_iso(value)
            except (ValueError, OverflowError):  # 0001-01-01T00:00+01:00 is before year 1 in UTC
                parsed = None
            if parsed is not None:
                if not _in_years(parsed):
                    raise ValueError(f"a timestamp between the years {AS_OF_YEARS[0]} and {AS_OF_YEARS[1]}")
                return parsed
        raise ValueError("expected an ISO 8601 date or timestamp, e.g. 2026-03-02T10:15:00Z")
    raise ValueError(f"expected a string, got {type(value).__name__}")


def check_properties(props: Mapping[str, Any], columns: Mapping[str, str], loc: Loc, *,
                     what: str, reserved: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Coerce each property to its column's type; returns the values and the problems found."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, value in props.items():
        if name in reserved:
            errors.append(problem((*loc, name), f"`{name}` is not a property here; set it at the top level"))
        elif name not in columns:
            known = ", ".join(c for c in columns if c not in reserved)
            errors.append(problem((*loc, name), f"unknown {what} property `{name}` (known: {known}); "
                                  "new columns are added by `leadscore import`", "unknown_property"))
        else:
            try:
                values[name] = coerce(value, columns[name])
            except ValueError as exc:
                errors.append(problem((*loc, name), f"{exc} for {what} property `{name}` ({columns[name]})",
                                      "type_error"))
    return values, errors


@dataclass
class NewEvent:
    """An event checked against the store, ready to write (contact not yet resolved)."""

    event_id: str | None
    contact_id: str | None
    email: str | None
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)

    def generated_id(self) -> str:
        """The id ``leadscore import`` gives this event as a one-line JSON file without event_id
        (``storage/identity.py``: the contact, else its e-mail key, and each value's text)."""
        values = {"type": self.type, "occurred_at": self.occurred_at, **self.properties}
        return generated_id(EVENT_ID_PREFIX, owner(self.contact_id, self.email), values)


def _size_bound(event: EventIn) -> int:
    """An upper bound of the event's JSON size, without serialising it (most events are tiny).

    Each character takes at most 6 bytes in JSON (``\\uXXXX``); 64 bytes per field cover the
    quotes, colons, names of the fixed fields and the longest number or timestamp.
    """
    text = sum(len(v) for v in (event.event_id, event.contact_id, event.email, event.type) if v)
    text += sum(len(k) + (len(v) if isinstance(v, str) else 0) for k, v in event.properties.items())
    return 6 * text + 64 * (len(event.properties) + 8)


def check_events(events: list[EventIn], columns: Mapping[str, str], *, now: datetime,
                 max_event_bytes: int, max_batch: int, batch: bool) -> list[NewEvent]:
    """Every event of a request, checked; raises InvalidInput naming every bad field."""
    errors: list[dict[str, Any]] = []
    if len(events) > max_batch:
        raise InvalidInput([problem(("body", "events"), f"{len(events)} events in one batch; the limit is "
                                    f"{max_batch}: split the batch", "too_long")])
    out: list[NewEvent] = []
    for i, event in enumerate(events):
        loc: Loc = ("body", "events", i) if batch else ("body",)
        size = _size_bound(event)
        if size > max_event_bytes:  # the bound may overestimate: measure exactly before refusing
            size = len(event.model_dump_json(exclude_none=True).encode("utf-8"))
        if size > max_event_bytes:
            errors.append(problem(loc, f"the event is {size:,} bytes; the limit is {max_event_bytes:,}",
                                  "too_large"))
            continue
        props, bad = check_properties(event.properties, columns, (*loc, "properties"), what="event",
                                      reserved=EVENT_TOP_LEVEL)
        errors.extend(bad)
        when, late = event_time(event.occurred_at, now, (*loc, "occurred_at"))
        if late is not None:
            errors.append(late)
            continue
        email = event.email.strip() if event.email else None
        out.append(NewEvent(event.event_id, event.contact_id, email, event.type, when, props))
    if errors:
        raise InvalidInput(errors)
    return out


def checked_as_of(as_of: datetime | None, where: str) -> datetime | None:
    """A request's ``as_of`` as naive UTC, or an InvalidInput naming ``where`` (query or body)."""
    if as_of is None:
        return None
    if not _in_years(as_of):
        raise InvalidInput([problem((where, "as_of"), _YEARS_MSG)])
    return to_utc_naive(as_of)
