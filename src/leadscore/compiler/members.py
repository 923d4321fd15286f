"""Which contacts belong to which company, as SQL: the membership rule written once.

A contact belongs to at most one company (docs/model-reference.md, "Account models"):

1. its ``company_id``, when that names a company in ``companies``;
2. otherwise, when the contact has no ``company_id`` and the workspace says
   ``accounts: {match_by_domain: true}``, the company whose ``domain`` is the contact's
   ``email_domain`` (the lower-cased part after the last ``@``), never a free-mail domain; of
   several companies with that domain, the smallest ``company_id``;
3. otherwise none.

At an as-of T the rule reads the data of T: the contacts existing at T (``created_at`` empty or
≤ T) with their ``company_id`` and ``email`` as of T, and the companies existing at T with their
``domain`` as of T (the account compiler passes the property-history CTEs as ``contacts_table`` /
``companies_table`` when something changed after T: ``compiler/properties_as_of.py``). So a
contact that moved to another company after T counts for its old company as of T, as it would in
a store holding only what was known at T. The account compiler embeds this query, and the engine
renders it for DuckDB to find the companies of some contacts (real-time rescoring) or the contacts
of a company (explain, the API).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from leadscore.errors import ModelIssue
from leadscore.model.properties import free_email_domains

from .build import alias
from .columns import CONTACT_ALIAS, Catalog, Property, _closest, quoted, table
from .dialects import Dialect

COMPANY_KEY = "company_id"


@dataclass
class CompanyCatalog(Catalog):
    """The columns of ``companies`` read by an account model (``c`` in the account query).

    It reuses the contact catalog's machinery (types, issues, projection) with company wording.
    """

    def contact_property(self, name: str, path: str) -> Property | None:
        if name not in self.contact:
            known = sorted(self.contact)
            self.issue(path, f"unknown company property `{name}`",
                       hint=_closest(name, known) or "import it with `leadscore import companies`; "
                                                     "properties: " + ", ".join(known))
            return None
        return super().contact_property(name, path)


def company_catalog(dialect: Dialect, file: str, columns: Mapping[str, str],
                    issues: list[ModelIssue]) -> CompanyCatalog:
    """The catalog of company columns, sharing ``issues`` with the contact catalog of the same query."""
    return CompanyCatalog(dialect, dict(columns), {}, file, issues)


def _created_by(column: exp.Expr, dialect: Dialect, as_of: datetime) -> exp.Expr:
    """``column IS NULL OR column <= as_of``: rows that exist at the as-of."""
    return exp.or_(exp.Is(this=column, expression=exp.Null()),
                   exp.LTE(this=column.copy(), expression=dialect.as_of_timestamp(as_of)))


def membership(catalog: Catalog, *, match_by_domain: bool, as_of: datetime | None,
               contacts_table: str = "contacts", companies_table: str = "companies",
               contact_filter: Callable[[exp.Expr], exp.Expr] | None = None,
               company_dates: bool = False) -> exp.Select:
    """``contact_id, company_id`` of every contact with a company (existing at ``as_of`` when given).

    ``catalog`` holds the contacts' columns (``company_id`` must be one; ``email`` for domains).
    ``company_dates``: the companies have a ``created_at``; with ``as_of``, only those existing at
    ``as_of`` can be a contact's company (a company created later has no contacts then).
    """
    key = exp.column(quoted("contact_id"), CONTACT_ALIAS)
    own = exp.column(quoted(COMPANY_KEY), CONTACT_ALIAS)
    firms: list[exp.Expr] = []
    if as_of is not None and company_dates:
        firms.append(_created_by(exp.column(quoted("created_at")), catalog.dialect, as_of))
    known = exp.select(exp.column(quoted(COMPANY_KEY))).distinct().from_(table(companies_table))
    if firms:
        known = known.where(firms[0].copy())
    where: list[exp.Expr] = []
    if as_of is not None and catalog.has_created_at:
        where.append(_created_by(exp.column(quoted("created_at"), CONTACT_ALIAS), catalog.dialect, as_of))
    if contact_filter is not None:
        where.append(contact_filter(key.copy()))
    if not (match_by_domain and "email" in catalog.contact):
        where.append(exp.In(this=own.copy(), query=known.subquery()))
        return exp.select(alias(key, "contact_id"), alias(own, COMPANY_KEY)).from_(
            table(contacts_table).as_(CONTACT_ALIAS)).where(exp.and_(*where))
    domain = exp.column(quoted("domain"))
    free = [exp.Literal.string(d) for d in free_email_domains()]
    by_domain = (exp.select(alias(domain, "domain"), alias(exp.Min(this=exp.column(quoted(COMPANY_KEY))), COMPANY_KEY))
                 .from_(table(companies_table))
                 .where(exp.and_(exp.not_(exp.Is(this=domain.copy(), expression=exp.Null())),
                                 exp.not_(exp.In(this=domain.copy(), expressions=free)), *firms))
                 .group_by(domain.copy()))
    chosen = exp.Coalesce(this=exp.column(COMPANY_KEY, "k"), expressions=[exp.column(COMPANY_KEY, "d")])
    select = (exp.select(alias(key, "contact_id"), alias(chosen, COMPANY_KEY))
              .from_(table(contacts_table).as_(CONTACT_ALIAS))
              .join(known.subquery("k"), on=exp.EQ(this=exp.column(COMPANY_KEY, "k"), expression=own.copy()),
                    join_type="left")
              .join(by_domain.subquery("d"), join_type="left", on=exp.and_(
                  exp.Is(this=own.copy(), expression=exp.Null()),
                  exp.EQ(this=exp.column("domain", "d"), expression=catalog.email_domain()))))
    where.append(exp.not_(exp.Is(this=chosen.copy(), expression=exp.Null())))
    return select.where(exp.and_(*where))


def companies_existing(catalog: CompanyCatalog, *, as_of: datetime, companies_table: str,
                       company_filter: Callable[[exp.Expr], exp.Expr] | None) -> exp.Select:
    """The scored companies (existing at ``as_of``) with the properties the model reads."""
    key = exp.column(quoted(COMPANY_KEY), CONTACT_ALIAS)
    columns: list[exp.Expr] = [key]
    columns += [expr for name, expr in catalog.projected.items() if name != COMPANY_KEY]
    select = exp.select(*columns).from_(table(companies_table).as_(CONTACT_ALIAS))
    where: list[exp.Expr] = []
    if catalog.has_created_at:
        where.append(_created_by(exp.column(quoted("created_at"), CONTACT_ALIAS), catalog.dialect, as_of))
    if company_filter is not None:
        where.append(company_filter(key.copy()))
    return select.where(exp.and_(*where)) if where else select
