"""A page number typed into the URL (no cursor): which few rows to sort to cut it, found by counting.

The lists' own links page by keyset (``pager``), but a typed ``?page=N`` is an offset: the rows at
places ``(N-1)*50 ...`` of the list's order. ``ORDER BY ... LIMIT 51 OFFSET k`` over a million
rows is cheap only while DuckDB keeps a top-N heap, which it does while ``LIMIT + OFFSET`` is under
5,000 (or 0.7 % of the input it estimates); past that it sorts the whole input. At 1M contacts
that made every typed page past the 5,000th row of a tier cost ~0.4 s of CPU (the bench's one slow
request in ten: the cold tier holds 93 % of its contacts).

So the page is cut from a slice of the list, found by counting: the rows are counted per group of
a key that follows the list's order, a running sum over the groups says which groups hold the
page's rows, and the slice is those groups. For an order ``(rank..., value, id)`` (the leads
list's tier rank, priority rank, minus the score, contact id; the accounts list's tier rank, minus
the score, company id) the keys are, one aggregate each, until the slice holds at most
``SLICE_ROWS`` rows:

1. the ranks and the value in ``BINS`` equal bins between its smallest and largest (one query:
   usually enough);
2. the ranks and the exact value (a bin can still be crowded);
3. the ranks, the value and the id's first characters: a tie (120k contacts at exactly -15 in the
   bench's store) is ordered by id, and the ids of a slice all share the prefix its smallest and
   largest share, so two more characters split it.

A slice is written as plain ranges (ranks equal, value between, and at the edge values of a tie
the id between), which DuckDB filters cheaply; row-value comparisons such as
``(tier_rank, score) >= (...)`` cost several times more over a million rows. Each key is
non-decreasing along the list's order, so a slice is a run of consecutive rows of the list and the
offset within it is exact: the page is the one the Next links reach. The page query then sorts at
most ``SLICE_ROWS`` rows, with a top-N heap. Tests: tests/web/test_offset_pages.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadscore.storage.store import Store, used_params

#: the most rows a page query sorts (20k rows sort in ~5 ms; each further count costs ~15-30 ms at 1M)
SLICE_ROWS = 20_000
#: equal-width bins of the value in the first count
BINS = 4096
#: at most this many id-prefix counts (each looks two characters further)
PREFIX_STEPS = 6


@dataclass
class Slice:
    """Consecutive rows of a list: the conditions that select them, how many they are, and how
    many of them come before the page."""

    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    offset: int = 0
    #: the slice's smallest and largest id, when read
    first_id: str | None = None
    last_id: str | None = None

    @property
    def sql(self) -> str:
        return "WHERE " + " AND ".join(self.where) if self.where else ""


@dataclass
class _Group:
    """One group of a count: its rank values, rows, the rows before it, and its extremes."""

    ranks: tuple[Any, ...]
    n: int
    before: int
    low: float
    high: float
    first_id: str | None
    last_id: str | None


def offset_slice(store: Store, source: str, params: dict[str, Any], keys: tuple[str, ...], offset: int,
                 span: int) -> Slice:
    """The slice of ``source`` (a table or parenthesised query with ``params``) holding its rows
    ``offset`` to ``offset + span`` in the order of ``keys`` (ascending; ``(rank..., value, id)``:
    the value a number, the id a unique string), and the page's offset within it."""
    *rank_keys, value, ident = keys
    ranks = rank_keys or ["0"]
    # the width, not the range, is tested: a range of a few denormals divided by BINS is 0.0
    width = f"(m.hi - m.lo) / {BINS}"
    binned = f"floor(({value} - m.lo) / (CASE WHEN {width} > 0 THEN {width} ELSE 1 END))"
    bounds = f"(SELECT min({value}) AS lo, max({value}) AS hi FROM {source}) AS m"
    part = _narrow(store, source, Slice(params=dict(params), offset=offset), ranks, value, ident, span,
                   level=0, extra=[binned], join=bounds)
    if part.rows > SLICE_ROWS:
        part = _narrow(store, source, part, ranks, value, ident, span, level=1, extra=[value], ids=True)
    for step in range(PREFIX_STEPS):
        if part.rows <= SLICE_ROWS or part.first_id is None or part.last_id is None or part.first_id == part.last_id:
            break
        length = _common_prefix(part.first_id, part.last_id) + 2
        part = _narrow(store, source, part, ranks, value, ident, span, level=2 + step,
                       extra=[value, f"substring({ident}, 1, {length})"], ids=True, by_id=True)
    return part


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _narrow(store: Store, source: str, part: Slice, ranks: list[str], value: str, ident: str, span: int, *,
            level: int, extra: list[str], join: str | None = None, ids: bool = False,
            by_id: bool = False) -> Slice:
    """Count ``part``'s rows per group of ``ranks + extra`` (expressions non-decreasing along the
    order) and keep the groups holding its rows ``part.offset`` to ``part.offset + span``: a running
    sum over the groups, and only the groups the page touches come back. ``ids`` also reads each
    group's smallest and largest id (what a tie is split by); ``by_id``: the groups split ties by
    id, so the slice bounds the ids at its edge values."""
    group = [*ranks, *extra]
    names = [f"g{i}" for i in range(len(group))]
    keys = ", ".join(names)
    id_columns = f", min({ident}) AS id_lo, max({ident}) AS id_hi" if ids else ", NULL AS id_lo, NULL AS id_hi"
    sql = f"""WITH g AS (SELECT {', '.join(f'{e} AS {n}' for e, n in zip(group, names, strict=True))},
                                count(*) AS n, min({value}) AS lo, max({value}) AS hi{id_columns}
                         FROM {source}{', ' + join if join else ''} {part.sql} GROUP BY {keys}),
                   c AS (SELECT *, sum(n) OVER (ORDER BY {keys} ROWS UNBOUNDED PRECEDING) AS upto FROM g)
              SELECT {', '.join(names[:len(ranks)])}, n, upto - n, lo, hi, id_lo, id_hi FROM c
              WHERE upto > $o_offset AND upto - n < $o_offset + $o_span ORDER BY upto"""
    params = {**part.params, "o_offset": part.offset, "o_span": span}
    width = len(ranks)
    found = [_Group(tuple(r[:width]), int(r[width]), int(r[width + 1]), float(r[width + 2]), float(r[width + 3]),
                    r[width + 4], r[width + 5]) for r in store.con.execute(sql, used_params(sql, params)).fetchall()]
    if not found:  # past the end
        return Slice(where=["false"], params=part.params)
    where, bound = _segments(found, ranks, value, ident if by_id else None, f"o{level}")
    first, last = found[0], found[-1]
    return Slice(where=[*part.where, where], params={**part.params, **bound},
                 rows=last.before + last.n - first.before, offset=part.offset - first.before,
                 first_id=first.first_id, last_id=last.last_id)


def _segments(found: list[_Group], ranks: list[str], value: str, ident: str | None, prefix: str
              ) -> tuple[str, dict[str, Any]]:
    """The rows of consecutive groups as plain ranges, one per rank values among them: the ranks
    equal, the value between the groups' smallest and largest and, where the groups were split by
    id, the first value's ids from the first group's smallest on and the last value's up to the
    last group's largest (values between them are whole)."""
    runs: list[list[_Group]] = []
    for g in found:
        if runs and runs[-1][0].ranks == g.ranks:
            runs[-1].append(g)
        else:
            runs.append([g])
    terms, params = [], {}
    for j, run in enumerate(runs):
        p = f"{prefix}_{j}_"
        conds = [f"{r} = ${p}r{i}" for i, r in enumerate(ranks)]
        params.update({f"{p}r{i}": v for i, v in enumerate(run[0].ranks)})
        conds.append(f"{value} BETWEEN ${p}lo AND ${p}hi")
        params.update({f"{p}lo": run[0].low, f"{p}hi": run[-1].high})
        if ident is not None:
            conds.append(f"({value} > ${p}lo OR {ident} >= ${p}first)")
            conds.append(f"({value} < ${p}hi OR {ident} <= ${p}last)")
            params.update({f"{p}first": run[0].first_id, f"{p}last": run[-1].last_id})
        terms.append("(" + " AND ".join(conds) + ")")
    return "(" + " OR ".join(terms) + ")", params
