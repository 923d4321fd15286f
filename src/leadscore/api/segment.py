"""Segment spec calls (track / identify / page) turned into events and contact upserts.

So any CDP that forwards to a Segment-compatible webhook can feed leadscore:

* who: ``userId`` is the contact_id; without it, an e-mail from ``traits``, ``context.traits`` or
  ``properties`` finds (or creates) the contact as an import would; without either, ``anonymousId``
  is used as the contact_id;
* ``track``: the event type is ``server.segment_event_types[event]``, else the event name in
  snake_case ("Demo Requested" → ``demo_requested``);
* ``page``: an event of type ``page_view``; ``url`` and ``referrer`` come from ``properties`` or
  ``context.page``; ``screen`` (mobile apps): an event of type ``screen_view``;
* ``group`` and ``alias``: accepted and ignored (counted in the response);
* ``identify``: traits upsert contact properties; Segment's camelCase names are mapped
  (``firstName`` → ``first_name``, ``title`` → ``job_title``, ``company.name`` → ``company``,
  ``company.employee_count`` → ``company_size``);
* ``messageId`` is the event_id, so a resent call changes nothing; ``timestamp`` is occurred_at,
  and for ``identify`` the moment the traits became true (the property history's ``changed_at``;
  without it, the time of the call).

Segment sends many fields we have no column for: a property or trait that is not a column, or
whose value does not fit its column's type, is ignored rather than refused (a CDP cannot fix its
payloads for us). Unknown *call* shapes are still 422s.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.api.schemas import SegmentCall
from leadscore.api.values import EVENT_TOP_LEVEL, InvalidInput, NewEvent, coerce, event_time, problem, storable_text

TRAIT_ALIASES = {"title": "job_title", "employees": "company_size", "created_at": "created_at",
                 "lifecycle_stage": "lifecycle_stage", "address.city": "city", "address.country": "country",
                 "company.name": "company", "company.employee_count": "company_size",
                 "company.industry": "industry", "company.website": "website"}


def snake_case(name: str) -> str:
    """``"Demo Requested"`` → ``demo_requested``; ``firstName`` → ``first_name``; accents go
    (``"Anmeldung bestätigt"`` → ``anmeldung_bestatigt``). May be empty (``"注文完了"``)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    ascii_ = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^0-9a-zA-Z]+", "_", ascii_).strip("_").lower()


def event_type_of(name: str) -> str:
    """The event type of a ``track`` name: its snake case, or for a name with no Latin letters
    or digits (``"注文完了"``) ``event_`` and a hash of it (map it to a readable type with
    ``server.segment_event_types``)."""
    return snake_case(name) or "event_" + hashlib.sha1(name.encode("utf-8", "replace")).hexdigest()[:10]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _fit(props: Mapping[str, Any], columns: Mapping[str, str], reserved: tuple[str, ...] = (),
         aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keep the values that have a column and fit its type; drop the rest (see module docstring)."""
    out: dict[str, Any] = {}
    for key, value in _flatten(props).items():
        name = (aliases or {}).get(key) or (aliases or {}).get(snake_case(key)) or snake_case(key)
        if name in reserved or name not in columns or name in out:
            continue
        try:
            out[name] = coerce(value, columns[name])
        except ValueError:
            continue
    return out


def _email(call: SegmentCall) -> str | None:
    for source in (call.traits, call.context.get("traits") or {}, call.properties):
        value = source.get("email") if isinstance(source, Mapping) else None
        if isinstance(value, str) and "@" in value and len(value) <= 320 and storable_text(value):
            return value.strip()
    return None


@dataclass
class SegmentWrites:
    events: list[NewEvent] = field(default_factory=list)
    #: (contact_id, e-mail, traits, when they became true: the call's timestamp or None)
    identifies: list[tuple[str | None, str | None, dict[str, Any], datetime | None]] = field(default_factory=list)
    ignored: int = 0


def translate(calls: list[SegmentCall], *, event_columns: Mapping[str, str], contact_columns: Mapping[str, str],
              event_types: Mapping[str, str], now: datetime, batch: bool, max_batch: int) -> SegmentWrites:
    """The events and contact upserts a list of Segment calls stands for."""
    if len(calls) > max_batch:
        raise InvalidInput([problem(("body", "batch"), f"{len(calls)} calls in one batch; the limit is "
                                    f"{max_batch}", "too_long")])
    out = SegmentWrites()
    errors = []
    for i, call in enumerate(calls):
        loc = ("body", "batch", i) if batch else ("body",)
        if call.type in ("group", "alias"):
            out.ignored += 1
            continue
        email = _email(call)
        contact_id = call.userId or (None if email else call.anonymousId)
        if contact_id is None and email is None:
            errors.append(problem(loc, "no userId, no e-mail in traits and no anonymousId: whose call is this?"))
            continue
        when, late = event_time(call.timestamp, now, (*loc, "timestamp"))
        if late is not None:
            errors.append(late)
            continue
        if call.type == "identify":
            traits = _fit(call.traits, contact_columns, ("contact_id",), TRAIT_ALIASES)
            if email and "email" not in traits:
                traits["email"] = email
            out.identifies.append((contact_id, email, traits, when if call.timestamp is not None else None))
            continue
        props = dict(call.properties)
        if call.type == "page":
            page = call.context.get("page") or {}
            for key in ("url", "referrer"):
                if key not in props and isinstance(page, Mapping) and key in page:
                    props[key] = page[key]
            event_type = "page_view"
        elif call.type == "screen":
            event_type = "screen_view"
        else:
            name = call.event or ""
            event_type = event_types.get(name) or event_type_of(name)
            if not event_type:
                errors.append(problem((*loc, "event"), f"cannot make an event type of `{name}`"))
                continue
        values = _fit(props, event_columns, EVENT_TOP_LEVEL)
        out.events.append(NewEvent(call.messageId, contact_id, email, event_type[:100], when, values))
    if errors:
        raise InvalidInput(errors)
    return out
