"""Contact properties as of the run's instant, read from the property history.

The rule (docs/model-reference.md "Properties as of a date"): the value of property p as of T is
the value of p's latest recorded change at or before T; a value imported with no change time is
assumed to have held since the contact's ``created_at``. The history table holds, per change, the
new value and the old one (``storage/migrations_history.py``), so the value as of T is also:

* the ``old_value`` of p's *first* change after T, when p changed after T;
* the current value in ``contacts`` otherwise (the store keeps it equal to the latest change).

That form reads only the changes after T: nothing of the history for "now" (the engine then does
not even ask for this, see ``engine.run``), a small share of it for a recent backtest date. Two
CTEs replace the contacts table as the source of ``ls_contacts``::

    ls_past    GROUP BY contact_id over the changes after T of the properties the model reads:
               per property k, t_k (its first change after T; NULL: none) and v_k (that change's
               old value, as text)
    ls_people  contacts c LEFT JOIN ls_past: each property is c.p when t_k IS NULL, else v_k cast
               to the column's type; contact_id and created_at as stored (they have no history)

Derived properties (``email_domain``, ``is_free_email``) are computed by ``ls_contacts`` from the
``email`` of ``ls_people``, so they follow ``email`` as of T. The history table has the columns
``contact_id, property, old_value, new_value, changed_at`` (any engine: DuckDB, Spark, Postgres).

Companies use the same rule and the same two CTEs over their own history
(``company_property_history``, keyed by ``company_id``): ``Subject`` names the key, the columns with
no history and the CTEs, so an account query can hold both (``compiler/accounts.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from leadscore.model.properties import UNVERSIONED_COLUMNS

from .build import alias, col
from .columns import Catalog, quoted, table
from .dialects import Dialect, get_dialect

PAST = "ls_past"
PEOPLE = "ls_people"


@dataclass(frozen=True)
class Subject:
    """Whose properties are read as of T: the key, the columns with no history, the CTE names."""

    key: str = "contact_id"
    unversioned: frozenset[str] = UNVERSIONED_COLUMNS
    past: str = PAST
    people: str = PEOPLE


CONTACT_SUBJECT = Subject()
#: An account query's companies: ``ls_cpast`` and ``ls_firms`` (every company, properties as of T).
COMPANY_SUBJECT = Subject("company_id", frozenset({"company_id", "created_at"}), "ls_cpast", "ls_firms")
HISTORY_ALIAS = "h"
#: The SQL type a property's text is cast back to, by logical type (text stays text).
_CAST_TO = {"number": "DOUBLE", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}


def versioned_properties(catalog: Catalog, subject: Subject = CONTACT_SUBJECT,
                         extra: Sequence[str] = ()) -> list[str]:
    """The stored contact columns the model reads that have a history, in a stable order, then
    those of ``extra`` (read by the query beside the model: membership's ``company_id``, say).

    A derived property reads ``email``; a stored column wins over a derived one of its name.
    """
    names: list[str] = []
    for name in [*catalog.projected, *extra]:
        stored = name in catalog.contact
        source = name if stored else "email"
        if source in catalog.contact and source not in subject.unversioned and source not in names:
            names.append(source)
    return names


def properties_as_of(catalog: Catalog, dialect: Dialect, as_of: datetime, contacts_table: str,
                     history_table: str,
                     contact_filter: Callable[[exp.Expr], exp.Expr] | None, *,
                     subject: Subject = CONTACT_SUBJECT, extra: Sequence[str] = ()) -> list[tuple[str, exp.Query]]:
    """The CTEs (``ls_past``, ``ls_people``) giving the contacts with their properties as of T;
    ``ls_contacts`` then reads ``ls_people`` in place of the contacts table. Empty when the model
    reads no versioned property (then the contacts table is read as it is). ``subject``: companies
    (their table, history and CTE names) in place of contacts; ``extra``: more columns to read."""
    names = versioned_properties(catalog, subject, extra)
    if not names:
        return []
    return [(subject.past, _past(names, dialect, as_of, history_table, contact_filter, subject)),
            (subject.people, _people(catalog, names, contacts_table, subject))]


def _hcol(name: str) -> exp.Column:
    return exp.column(quoted(name), HISTORY_ALIAS)


def _past(names: list[str], dialect: Dialect, as_of: datetime, history_table: str,
          contact_filter: Callable[[exp.Expr], exp.Expr] | None, subject: Subject) -> exp.Select:
    """Per contact with a change after T of some property read: each property's first such change."""
    aggregates: list[exp.Expr] = []
    for k, name in enumerate(names):
        this = exp.EQ(this=_hcol("property"), expression=exp.Literal.string(name))
        aggregates.append(alias(dialect.filtered(exp.Min, _hcol("changed_at"), this), f"t_{k}"))
        aggregates.append(alias(dialect.earliest(_hcol("old_value"), _hcol("changed_at"), this), f"v_{k}"))
    literals = [exp.Literal.string(n) for n in names]
    which = (exp.EQ(this=_hcol("property"), expression=literals[0]) if len(literals) == 1
             else exp.In(this=_hcol("property"), expressions=literals))
    where: list[exp.Expr] = [exp.GT(this=_hcol("changed_at"), expression=dialect.as_of_timestamp(as_of)), which]
    if contact_filter is not None:
        where.append(contact_filter(_hcol(subject.key)))
    return (exp.select(alias(_hcol(subject.key), quoted(subject.key)), *aggregates)
            .from_(table(history_table).as_(HISTORY_ALIAS))
            .where(exp.and_(*where))
            .group_by(_hcol(subject.key)))


def _people(catalog: Catalog, names: list[str], contacts_table: str, subject: Subject) -> exp.Select:
    """The contacts, each read property as of T: stored when it did not change after T."""
    def stored(name: str) -> exp.Column:
        return exp.column(quoted(name), "c")

    columns: list[exp.Expr] = [stored(subject.key)]
    if catalog.has_created_at:
        columns.append(stored("created_at"))
    for k, name in enumerate(names):
        text: exp.Expr = col(f"v_{k}", "p")
        cast_to = _CAST_TO.get(catalog.contact[name])
        past = exp.cast(text, exp.DataType.build(cast_to)) if cast_to else text
        value = exp.Case(ifs=[exp.If(this=exp.Is(this=col(f"t_{k}", "p"), expression=exp.Null()),
                                     true=stored(name))], default=past)
        columns.append(alias(value, quoted(name)))
    on = exp.EQ(this=exp.column(quoted(subject.key), "p"), expression=stored(subject.key))
    return (exp.select(*columns).from_(table(contacts_table).as_("c"))
            .join(exp.to_table(subject.past).as_("p"), on=on, join_type="left"))


def contacts_as_of(contact_columns: Mapping[str, str], names: Sequence[str], as_of: datetime, *,
                   dialect: str = "duckdb", contacts_table: str = "contacts",
                   history_table: str = "property_history") -> exp.Query:
    """``contact_id``, ``created_at`` and the stored columns ``names`` of every contact, each as of
    ``as_of``: the contacts table as it stood then (contacts created later included; filter on
    ``created_at``). For readers other than a model, such as predictive features, which must
    read properties by the same rule as the rules do.
    """
    target = get_dialect(dialect)
    catalog = Catalog.build(target, "<contacts as of>", contact_columns, None)
    for name in names:
        catalog.contact_property(name, name)
    if catalog.issues:
        raise ValueError("; ".join(i.message for i in catalog.issues))
    ctes = properties_as_of(catalog, target, as_of, contacts_table, history_table, None)
    stored = [exp.column(quoted(n)) for n in dict.fromkeys(("contact_id", "created_at", *names))
              if n in catalog.contact]
    query = exp.select(*stored).from_(table(PEOPLE if ctes else contacts_table))
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query
