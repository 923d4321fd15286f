"""A contact's properties as of an instant, from its recorded changes: the rule, in plain Python.

This is the reference scorer's side of docs/model-reference.md "Properties as of a date", written
from the rule itself rather than from the SQL's shortcut (the old value of the first change after
T), so the differential test compares two readings of the rule:

* the value of property p as of T is the value of p's latest change at or before T;
* before p's first dated change it is the value *assumed* to have held since ``created_at``: a
  change with no time (``changed_at`` None), or nothing (NULL) when there is none;
* a property with no recorded change keeps the contact's stored value (assumed too).

``contact_id`` and ``created_at`` have no history (``model.properties.UNVERSIONED_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from leadscore.model.properties import UNVERSIONED_COLUMNS
from leadscore.timeutil import to_utc_naive


def _instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return to_utc_naive(value) if value.tzinfo is not None else value
    return datetime(value.year, value.month, value.day)


def contact_as_of(contact: Mapping[str, Any], changes: Iterable[Mapping[str, Any]],
                  as_of: datetime) -> dict[str, Any]:
    """``contact`` with each property that has recorded changes set to its value as of ``as_of``.

    ``changes`` are this contact's changes: mappings with ``property``, ``value`` (typed as the
    column) and ``changed_at`` (a datetime, or None for an assumed value). Of several changes of
    one property at the same moment, the last given wins.
    """
    as_of = _instant(as_of)
    latest: dict[str, tuple[datetime, Any]] = {}  # property -> (time, value) of the latest change ≤ T
    assumed: dict[str, Any] = {}
    seen: set[str] = set()
    for change in changes:
        name = change["property"]
        if name in UNVERSIONED_COLUMNS:
            continue
        seen.add(name)
        when = change.get("changed_at")
        if when is None:
            assumed[name] = change.get("value")
            continue
        when = _instant(when)
        if when <= as_of and (name not in latest or when >= latest[name][0]):
            latest[name] = (when, change.get("value"))
    resolved = dict(contact)
    for name in seen:
        resolved[name] = latest[name][1] if name in latest else assumed.get(name)
    return resolved
