"""Server-side paging by keyset, shared by the leads list and the accounts list.

A list is sorted by a total order (its ``SORT_KEY``: tier rank, ..., minus the score, the id), and
a page is cut after (``after``) or before (``before``) one row's place in it, carried in the URL as
a signed cursor (``api.cursors``) bound to the list's filters, so page 500 costs what page 1 does.
A page number typed into the URL without a cursor falls back to an offset, cut from a slice of
the list that counting finds (``offset_pages``).

Whether a Next link is shown is read with the page, never guessed from the total: forwards one
extra row is read past the page; backwards the page ends at the cursor, so one more query asks for
a row after it. Rows that left the filter before the cursor (rescored into another tier meanwhile)
shrink the total but never hide the rows after the cursor (the accounts list's Next link used to
follow the page count and lost them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from leadscore.api.cursors import Kind, decode_cursor, encode_cursor
from leadscore.storage.store import Store, used_params
from leadscore.web.offset_pages import offset_slice

PAGE_SIZE = 50

@dataclass(frozen=True)
class Order:
    """A list's total order: its key expressions, ascending, and the kinds of a cursor's values.
    The keys are ``(rank..., value, id)``: ranks and a number, then a unique string id (what
    ``offset_pages`` cuts a typed page number by)."""

    keys: tuple[str, ...]
    kinds: tuple[Kind, ...]

    @property
    def tuple_sql(self) -> str:
        return f"({', '.join(self.keys)})"

    def bound(self, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """``($pk0, $pk1, ...)`` and the parameters holding ``values``."""
        names = [f"pk{i}" for i in range(len(self.keys))]
        return f"({', '.join('$' + n for n in names)})", dict(zip(names, values, strict=True))


class Filter(Protocol):
    """What a list's filter gives the pager (``LeadFilter``, ``AccountFilter``)."""

    @property
    def page(self) -> int: ...

    @property
    def after(self) -> str | None: ...

    @property
    def before(self) -> str | None: ...

    def url(self, **changes: Any) -> str: ...

    def filters(self) -> dict[str, Any]: ...


def keyset_rows(store: Store, source: str, params: dict[str, Any], columns: str, order: Order, flt: Filter,
                position: Callable[[tuple[Any, ...]], Sequence[Any]]) -> tuple[list[tuple[Any, ...]], bool]:
    """The page's rows of ``source`` (a table or a parenthesised query with ``params``): ``columns``,
    in list order, and whether a row follows them. ``position`` gives a row's values of ``order``.
    A page number without a cursor is cut from the few rows ``offset_pages`` narrows it to."""
    where, direction, offset = "", "ASC", 0
    if flt.after or flt.before:
        token, direction = (flt.after, "ASC") if flt.after else (flt.before, "DESC")
        values = decode_cursor(token or "", flt.filters(), order.kinds, param="after" if flt.after else "before")
        bound, keys = order.bound(values)
        where = f"WHERE {order.tuple_sql} {'>' if direction == 'ASC' else '<'} {bound}"
        params = {**params, **keys}
    elif flt.page > 1:
        part = offset_slice(store, source, params, order.keys, (flt.page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        where, offset, params = part.sql, part.offset, part.params
    keys_sql = ", ".join(f"{k} {direction}" for k in order.keys)
    sql = f"SELECT {columns} FROM {source} {where} ORDER BY {keys_sql} LIMIT {PAGE_SIZE + 1} OFFSET {offset}"
    rows = [tuple(r) for r in store.con.execute(sql, used_params(sql, params)).fetchall()]
    if direction == "ASC":
        return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE][::-1]
    if not rows:
        return rows, False
    return rows, _any_after(store, source, params, order, position(rows[-1]))


def _any_after(store: Store, source: str, params: dict[str, Any], order: Order, position: Sequence[Any]) -> bool:
    bound, keys = order.bound(position)
    sql = f"SELECT 1 FROM {source} WHERE {order.tuple_sql} > {bound} LIMIT 1"
    return bool(store.con.execute(sql, used_params(sql, {**params, **keys})).fetchall())


class Paged:
    """Links and counts of a page of a list; the page class has ``filter``, ``rows``, ``total``,
    ``has_next`` and ``position(row)`` (the row's values of the list's ``Order``)."""

    filter: Any
    rows: list[Any]
    total: int
    has_next: bool

    def position(self, row: Any) -> list[Any]:
        raise NotImplementedError

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def next_url(self) -> str | None:
        if not self.rows or not self.has_next:
            return None
        return str(self.filter.url(page=self.filter.page + 1,
                                   after=encode_cursor(self.position(self.rows[-1]), self.filter.filters())))

    def previous_url(self) -> str | None:
        if self.filter.page <= 1 or not self.rows:
            return None
        if self.filter.page == 2:
            return str(self.filter.url())
        return str(self.filter.url(page=self.filter.page - 1,
                                   before=encode_cursor(self.position(self.rows[0]), self.filter.filters())))

    @property
    def first(self) -> int:
        return (self.filter.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0
