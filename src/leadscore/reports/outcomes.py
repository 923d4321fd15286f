"""Who converted: the outcome of each contact of a backtest population, as one SQL query.

A backtest asks "scored as of T, who went on to buy?". The population and its label are defined
once so that every figure of a report (backtest, rule impact, thresholds, suggestions) uses the
same people and the same answer — and the same answer as a trained predictive model: what
"converted" means (the won-deal window, the won time of a deal without ``closed_at``, the words
of a label property) lives in ``leadscore.predictive.conversion``, which training imports too.

* **population**: contacts created at or before T (or with no ``created_at``), minus, in deal
  mode, those with a deal won *before* T (they had already converted: scoring them would reward
  the score for knowing the past);
* **deal mode** (default): positive = a won deal whose won time (``closed_at``, or its
  ``created_at`` when it has no ``closed_at``) is in ``[T, T + horizon)``; a deal won after the
  horizon does not count. ``days_to_close`` is from T to the first such win, ``deal_value`` the
  sum of the amounts won in the window;
* **accounts** (an account model): the population is the companies created by T without a deal
  won before T; positive = a deal of the company won in the window (``account_outcome_query``);
* **label mode** (``label="converted"``): positive = a yes/no-like contact property that is true
  (``conversion.TRUE_WORDS``, any case, or 1, or a true boolean). Data without dates (a CSV export
  of past leads) can be audited this way; contacts whose label is empty are left out (unknown,
  not negative), values that are not yes/no-like are refused, and there is no time to close or
  value. When the label property has a history (``storage/history.py``), it is read as of
  T + horizon, and contacts whose label was already true as of T are left out, as deal mode
  leaves out contacts won before T.

Every value reaches SQL as a parameter or a quoted identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadscore.compiler.properties_as_of import contacts_as_of
from leadscore.errors import LeadscoreError
from leadscore.predictive import conversion
from leadscore.storage.store import Store
from leadscore.timeutil import parse_duration


def parse_horizon(value: str | int | float | timedelta) -> timedelta:
    """``90d``, ``12w`` or a number of days → a timedelta (``timeutil.parse_duration``).

    >>> parse_horizon("90d")
    datetime.timedelta(days=90)
    """
    return parse_duration(value, "horizon")


@dataclass(frozen=True)
class Outcome:
    """What counts as converting: a won deal within ``horizon`` after the as-of, or a label property."""

    horizon: timedelta = timedelta(days=90)
    label: str | None = None

    @property
    def mode(self) -> str:
        return "label" if self.label else "deal"

    def describe(self) -> str:
        if self.label:
            return f"contact property `{self.label}` is true"
        days = self.horizon.total_seconds() / 86_400
        return f"a won deal closed within {days:g} day{'' if days == 1 else 's'} after the as-of date"


resolve_label = conversion.resolve_label  # the column a --label names (shared with training)

#: words that make a yes/no column a likely label, listed first
_LABEL_WORDS = ("convert", "won", "customer", "closed", "paid", "purchase")


def checked_outcome(store: Store, outcome: Outcome) -> Outcome:
    """``outcome``, refused when it cannot say anything: deal mode in a workspace without a single
    deal but with yes/no contact properties. The error names them, likeliest labels first, so an
    export that carries only a `Converted` flag (X Education's Leads.csv) finds its way to
    ``--label converted``."""
    if outcome.label or store.count("deals"):
        return outcome
    types = store.column_types("contacts")
    flags = [name for name, dtype in types.items() if dtype.upper() == "BOOLEAN"]
    whole = [name for name, dtype in types.items() if dtype.upper() in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT")]
    if whole:  # 0/1 columns (`Converted` in many exports) are yes/no too
        quoted = ['"' + n.replace('"', '""') + '"' for n in whole]
        row = store.con.execute("SELECT " + ", ".join(f"count({q}) > 0 AND count(*) FILTER ({q} NOT IN (0, 1)) = 0"
                                                       for q in quoted) + " FROM contacts").fetchone()
        flags += [n for n, ok in zip(whole, row or (), strict=False) if ok]
    if not flags:
        return outcome
    flags.sort(key=lambda n: (not any(w in n.lower() for w in _LABEL_WORDS), n))
    raise LeadscoreError(
        "this workspace has no deals, so nothing says who converted; use --label COLUMN with a yes/no "
        f"contact property that says it: {', '.join(flags[:8])}{', ...' if len(flags) > 8 else ''} "
        "(or import deals: leadscore import deals FILE)")


def label_truth_sql(store: Store, column: str) -> str:
    """SQL for "the label is true" of contacts aliased ``c`` (NULL when unknown): the shared
    definition, ``conversion.label_truth_sql`` (refuses values that are not yes/no-like)."""
    return conversion.label_truth_sql(store, column, "c")


def outcome_query(store: Store, as_of: datetime, outcome: Outcome) -> tuple[str, dict[str, Any]]:
    """SQL and named parameters of ``contact_id, converted, days_to_close, deal_value`` for the population."""
    if outcome.label:
        column = resolve_label(store, outcome.label)
        if _has_history(store, column):
            return _dated_label_query(store, column, as_of, outcome)
        truth = label_truth_sql(store, column)
        sql = f"""SELECT contact_id, converted, CAST(NULL AS DOUBLE) AS days_to_close,
                         CAST(NULL AS DOUBLE) AS deal_value
                  FROM (SELECT c.contact_id, {truth} AS converted FROM contacts c
                        WHERE c.created_at IS NULL OR c.created_at <= $as_of)
                  WHERE converted IS NOT NULL"""
        return sql, {"as_of": as_of}
    return _won_population("contacts", "contact_id", conversion.won_by_contact_sql("$as_of", "$end"), as_of, outcome)


def _has_history(store: Store, column: str) -> bool:
    row = store.con.execute("SELECT 1 FROM property_history WHERE property = ? LIMIT 1", [column]).fetchone()
    return row is not None


def _dated_label_query(store: Store, column: str, as_of: datetime, outcome: Outcome) -> tuple[str, dict[str, Any]]:
    """Label mode when the label property has a history: as deal mode does with won deals, the
    population is the contacts not converted as of T (the label not true then), and a positive
    is one whose label is true as of T + horizon (empty then: unknown, left out). Today's label
    would count a contact that converted before T, or long after the horizon, as a conversion."""
    columns = store.columns("contacts")
    then = contacts_as_of(columns, [column], as_of).sql(dialect="duckdb")
    later = contacts_as_of(columns, [column], as_of + outcome.horizon).sql(dialect="duckdb")
    sql = f"""SELECT contact_id, converted, CAST(NULL AS DOUBLE) AS days_to_close,
                     CAST(NULL AS DOUBLE) AS deal_value
              FROM (SELECT c.contact_id, {conversion.label_truth_sql(store, column, "c")} AS converted,
                           {conversion.label_truth_sql(store, column, "b")} AS before
                    FROM ({later}) c JOIN ({then}) b USING (contact_id)
                    WHERE c.created_at IS NULL OR c.created_at <= $as_of)
              WHERE converted IS NOT NULL AND NOT coalesce(before, false)"""
    return sql, {"as_of": as_of}


def _won_population(table: str, key: str, won_sql: str, as_of: datetime, outcome: Outcome
                    ) -> tuple[str, dict[str, Any]]:
    """Rows of ``table`` created by the as-of, minus those won before it, with the window's outcome
    from ``won_sql`` (``key, won, before, first_won, value``): the deal-mode population."""
    sql = f"""SELECT p.{key}, coalesce(w.won, false) AS converted,
                     CASE WHEN w.first_won IS NULL THEN NULL
                          ELSE (epoch_us(w.first_won) - epoch_us($as_of::TIMESTAMP)) / 86400000000.0 END
                       AS days_to_close,
                     w.value AS deal_value
              FROM {table} p LEFT JOIN ({won_sql}) w USING ({key})
              WHERE (p.created_at IS NULL OR p.created_at <= $as_of) AND NOT coalesce(w.before, false)"""
    return sql, {"as_of": as_of, "end": as_of + outcome.horizon}


def account_outcome_query(store: Store, as_of: datetime, outcome: Outcome, members_sql: str
                          ) -> tuple[str, dict[str, Any]]:
    """``company_id, converted, days_to_close, deal_value`` of an account backtest's population:
    companies created by ``as_of`` without a deal won before it (``conversion.won_by_company_sql``).

    Only deal mode: a label is a contact property, which says nothing about a company.
    """
    if outcome.label:
        raise LeadscoreError("an account model is backtested on won deals per company; `--label` names a "
                             "contact property, which applies to contact models only")
    return _won_population("companies", "company_id", conversion.won_by_company_sql("$as_of", "$end", members_sql),
                           as_of, outcome)


def data_end(store: Store) -> datetime | None:
    """The latest moment the store knows anything about (``conversion.data_end``)."""
    return conversion.data_end(store)


def horizon_observed(store: Store, as_of: datetime, outcome: Outcome) -> bool:
    """Has the store seen the whole outcome window? (If not, late converters are still missing.)"""
    if outcome.label:
        return True
    end = data_end(store)
    return end is not None and end >= as_of + outcome.horizon
