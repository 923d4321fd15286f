"""Opaque page cursors, the same for every paged endpoint (scores, list members, tasks).

Pages use keyset pagination: a cursor holds the sort key of the last row of a page (its
*position*) and the filters it was made for. Unlike an offset, a position does not shift when rows
are added or removed before it, so rows that did not move are never skipped or repeated; a cursor
reused with other filters is refused rather than misread.

A cursor is only base64 of JSON, so a client can build one by hand. Everything in it is checked
before it reaches SQL: the encoding, the filters, and the position's length and types (a number is
a finite int or float, never a boolean). Any problem is an ``InvalidInput`` naming the query
parameter (a 422 like every other bad value), never a 500.

    >>> token = encode_cursor([61.5, "c_42"], {"model": "b2b"})
    >>> decode_cursor(token, {"model": "b2b"}, SCORE_POSITION)
    [61.5, 'c_42']
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from leadscore.api.values import InvalidInput, problem, storable_text

Row = TypeVar("Row")

#: the kinds a position may hold: ``float`` is any finite JSON number, ``str`` a JSON string
Kind = type[float] | type[str]

#: ``/v1/scores``: (score, contact_id), best first
SCORE_POSITION: tuple[Kind, ...] = (float, str)
#: ``/v1/lists/{name}`` and ``/v1/tasks``: the last row's id (contact_id, task_id)
ID_POSITION: tuple[Kind, ...] = (str,)

_KIND_NAMES = {float: "number", str: "string"}
_FOREIGN = "not a cursor this API made; pass the `next_cursor` of the previous page unchanged"


def encode_cursor(after: Sequence[float | str], filters: Mapping[str, Any]) -> str:
    """The token for a page that continues after ``after`` (a position) under ``filters``."""
    payload = {"after": list(after), "filters": dict(filters)}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _refuse(param: str, msg: str) -> InvalidInput:
    return InvalidInput([problem(("query", param), msg)])


def _position_item(value: Any, kind: Kind) -> float | str | None:
    """``value`` as ``kind``, or None when it is not one (bool is an int to Python, not here)."""
    if kind is str:
        return value if isinstance(value, str) and storable_text(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # an integer of 400 digits overflows
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def decode_cursor(token: str, filters: Mapping[str, Any], shape: Sequence[Kind], *,
                  param: str = "cursor") -> list[Any]:
    """The position ``token`` holds, checked against the page's ``filters`` and ``shape``.

    Raises InvalidInput naming ``param`` when the token is garbled, was made for other filters,
    or holds a position of another length or other types than ``shape``.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise _refuse(param, _FOREIGN) from None
    if not isinstance(data, dict) or not isinstance(data.get("after"), list):
        raise _refuse(param, _FOREIGN)
    if data.get("filters") != dict(filters):
        made_for = json.dumps(data.get("filters"))[:200]  # ASCII-escaped: a forged cursor may hold anything
        raise _refuse(param, f"this cursor was made for other filters ({made_for}); keep "
                             f"{_and(list(filters))} the same across pages")
    after: list[Any] = data["after"]
    position = [_position_item(v, k) for v, k in zip(after, shape, strict=False)]
    if len(after) != len(shape) or any(p is None for p in position):
        expected = ", ".join(_KIND_NAMES[k] for k in shape)
        raise _refuse(param, f"garbled cursor position (expected [{expected}]); {_FOREIGN}")
    return position


def next_page(rows: list[Row], limit: int, position: Callable[[Row], Sequence[float | str]],
              filters: Mapping[str, Any]) -> tuple[list[Row], str | None]:
    """A page of ``rows`` (fetched with ``limit + 1``) and the cursor of the next one, if any.

    Fetching one row more than the page tells whether another page exists without a count, so
    the last page has ``next_cursor`` null rather than pointing at an empty page.
    """
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(position(page[-1]), filters)
