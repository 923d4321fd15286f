"""What "converted" means: ONE definition for training labels and backtest outcomes.

Training (``predictive/labels.py``) and every report figure (``reports/outcomes.py``,
``reports/calibration.py``) import this module, so a trained model and a backtest always agree on
who converted. It lives in ``predictive`` because ``reports`` is the higher layer: reports may import
predictive, never the reverse.

**Won deal in a window** (the default label). A contact converted within ``[t, t + horizon)`` when
it has a deal with status ``won`` whose *won time* falls in that half-open window. The won time is
the deal's ``closed_at`` or, when a won deal has no ``closed_at`` (an export without a close-date
column, a CRM that leaves it blank), its ``created_at``: the earliest moment it can have been won.
Why not drop such deals: a dropped won deal turns a customer into a lead who never bought, counted
negative in every window and never left out as "already converted". A won deal with neither date
is ignored. A contact whose won time is before ``t`` had converted already: it is a customer, not
a lead, and is left out of the population (the caller filters on ``before``).

**Per company** (account models): a company converted in the window when a deal of it was won
there, a deal's company being its ``company_id`` or else its contact's company; a company with a
deal won before ``t`` is a customer and left out, as a contact is.

**A contact property** (``--label converted``), for exports that carry only a converted flag:

* text: compared lower-cased with surrounding whitespace removed; ``TRUE_WORDS`` are converted,
  ``FALSE_WORDS`` are not, empty text is *unknown* (the contact is left out, not counted negative);
* a boolean as it is; a number 1 (converted) or 0 (not);
* anything else (``'maybe'``, ``2``) is refused with the offending values, rather than silently
  read as "not converted"; NULL is unknown.

Every value reaches SQL as a parameter, a literal or a quoted identifier.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlglot import exp

from leadscore.errors import LeadscoreError
from leadscore.model.properties import CONTACT_COLUMNS
from leadscore.storage.store import Store

#: Text values of a label property that mean "converted" (after lower-casing and trimming).
TRUE_WORDS = ("true", "t", "yes", "y", "1", "won", "converted")
#: Text values that mean "did not convert". Empty text is neither: unknown.
FALSE_WORDS = ("false", "f", "no", "n", "0")
#: When a won deal was won: its close, or its creation when it has no close date (module docstring).
WON_AT = "coalesce(closed_at, created_at)"
#: Won deals with their won time: ``contact_id, won_at, amount``.
WON_DEALS = f"SELECT contact_id, {WON_AT} AS won_at, amount FROM deals WHERE status = 'won' AND {WON_AT} IS NOT NULL"
#: How many odd label values an error message quotes.
ODD_SHOWN = 5


def in_window(column: str, start: str, end: str) -> str:
    """SQL for "``column`` lies in ``[start, end)``": the window rule, written once."""
    return f"({column} >= {start} AND {column} < {end})"


def won_by_contact_sql(start: str, end: str) -> str:
    """One row per contact with a won deal: ``contact_id, won, before, first_won, value``.

    ``start`` and ``end`` are SQL expressions, normally parameters (``"$as_of"``, ``"$end"``):
    ``won`` = a won time in ``[start, end)``, ``before`` = a won time before ``start`` (already a
    customer), ``first_won`` the first won time in the window and ``value`` the sum of the amounts
    won in it (both NULL without a win in the window). Contacts without a won deal have no row:
    LEFT JOIN and read a missing row as "not converted, not before".
    """
    window = in_window("won_at", start, end)
    return (f"SELECT contact_id, bool_or({window}) AS won, bool_or(won_at < {start}) AS before, "
            f"min(won_at) FILTER (WHERE {window}) AS first_won, "
            f"sum(amount) FILTER (WHERE {window}) AS value "
            f"FROM ({WON_DEALS}) GROUP BY contact_id")


def won_by_company_sql(start: str, end: str, members_sql: str) -> str:
    """``won_by_contact_sql`` per company: ``company_id, won, before, first_won, value``.

    A deal's company is its own ``company_id``, else the company its contact belongs to
    (``members_sql``: ``contact_id, company_id``, the membership rule); a deal with neither counts
    for no company. The window and the won time are the contact definitions'.
    """
    window = in_window("won_at", start, end)
    deals = (f"SELECT coalesce(d.company_id, m.company_id) AS company_id, {WON_AT} AS won_at, d.amount "
             f"FROM deals d LEFT JOIN ({members_sql}) m USING (contact_id) "
             f"WHERE d.status = 'won' AND {WON_AT} IS NOT NULL")
    return (f"SELECT company_id, bool_or({window}) AS won, bool_or(won_at < {start}) AS before, "
            f"min(won_at) FILTER (WHERE {window}) AS first_won, "
            f"sum(amount) FILTER (WHERE {window}) AS value "
            f"FROM ({deals}) WHERE company_id IS NOT NULL GROUP BY company_id")


def data_end(store: Store, now: datetime | None = None) -> datetime | None:
    """The latest moment the store knows anything about (an event, a deal's won or creation time),
    not after ``now`` when given; None for an empty store.

    Training "as of now" on data that stops in January must mean "as of January", and a backtest
    whose horizon runs past this moment has not seen its late converters yet.
    """
    deal_at = WON_AT  # a deal of any status is known from its close, or else its creation
    cap_event = " WHERE occurred_at <= $now" if now is not None else ""
    cap_deal = f" WHERE {deal_at} <= $now" if now is not None else ""
    row = store.con.execute(
        f"SELECT greatest((SELECT max(occurred_at) FROM events{cap_event}), "
        f"(SELECT max({deal_at}) FROM deals{cap_deal}))",
        {"now": now} if now is not None else {}).fetchone()
    return row[0] if row and row[0] is not None else None


def label_truth_sql(store: Store, column: str, alias: str = "c", table: str = "contacts") -> str:
    """SQL for "the label property is true" of ``table`` (contacts, or companies for an account
    model) aliased ``alias``: TRUE, FALSE or NULL (unknown). Refuses a property holding values that
    are not yes/no-like (``LeadscoreError``).
    """
    kind = store.columns(table).get(column)
    ref = f"{alias}.{exp.to_identifier(column, quoted=True).sql(dialect='duckdb')}"
    if kind == "boolean":
        return ref
    if kind == "number":
        _refuse_odd(store, column, f"SELECT DISTINCT {ref} FROM {table} {alias} WHERE {ref} NOT IN (0, 1)")
        return f"(CASE WHEN {ref} = 1 THEN true WHEN {ref} = 0 THEN false END)"
    if kind == "string":
        word = _normalised(ref)
        known = ", ".join(_lit(w) for w in (*TRUE_WORDS, *FALSE_WORDS, ""))
        _refuse_odd(store, column, f"SELECT DISTINCT {word} AS v FROM {table} {alias} WHERE {word} NOT IN ({known})")
        truthy = ", ".join(_lit(w) for w in TRUE_WORDS)
        falsy = ", ".join(_lit(w) for w in FALSE_WORDS)
        return f"(CASE WHEN {word} IN ({truthy}) THEN true WHEN {word} IN ({falsy}) THEN false END)"
    noun = "company" if table == "companies" else "contact"
    raise LeadscoreError(f"{noun} property `{column}` is a {kind}; a label must be a number, boolean or text")


def _normalised(ref: str) -> str:
    """Lower-cased, without leading or trailing whitespace of any kind (tabs and newlines too)."""
    return rf"lower(regexp_replace({ref}, '^\s+|\s+$', '', 'g'))"


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="duckdb")


def _refuse_odd(store: Store, column: str, odd_sql: str) -> None:
    odd = [str(r[0]) for r in store.con.execute(f"SELECT * FROM ({odd_sql}) ORDER BY 1 LIMIT {ODD_SHOWN}").fetchall()]
    if odd:
        raise LeadscoreError(
            f"--label {column}: the property must hold yes/no-like values (true/false, yes/no, 1/0), "
            f"but it also holds {', '.join(repr(v) for v in odd)}")


def resolve_label(store: Store, label: str) -> str:
    """The contacts column a ``--label`` names: as written, or its snake_case form (as imports name it)."""
    columns = store.columns("contacts")
    if label in columns:
        return label
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", label).strip("_").lower()
    if snake in columns:
        return snake
    custom = [c for c in columns if c not in _BUILT_IN]
    raise LeadscoreError(
        f"no contact property `{label}` to use as a label; contact columns you imported: "
        + (", ".join(custom[:20]) or "none") + " (import the outcome column with the contacts)"
    )


_BUILT_IN = frozenset(CONTACT_COLUMNS)  # the store's own contact columns: never a label
