"""What the API writes about companies, as jobs for the single writer, and who must be rescored.

A company's own properties are upserted like a contact's (``api/writes.upsert_contact``): values
equal to the stored ones change nothing, and each real change goes into the companies' property
history (``storage/history.write_properties`` with ``COMPANIES``), true from the request's
``timestamp`` (default now). Its ``domain`` is stored normalised
(``storage/companies.normalize_domain``, the importer's rule). Which account scores a write
changes:

* the company itself, when a property changed;
* with ``accounts.match_by_domain``, the companies holding the old or the new domain too: the
  contacts matched by that domain may move between them;
* a contact whose ``company_id`` (or, matching by domain, ``email``) changes leaves its old company:
  ``companies_left`` names it before the write, so the old company is rescored as well as the new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadscore.engine.account_sql import companies_of
from leadscore.storage.history import COMPANIES, change_instant, record_initial_values, write_properties
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import Store


def company_key(value: object) -> object:
    """A company id as the importer stores it: trimmed of spaces, empty (or only whitespace) → None.

    ``""`` stored verbatim would be a company id of its own: membership (``compiler/members.py``)
    takes ``company_id IS NULL`` to mean "no company", so the contact would leave its e-mail
    domain's company.
    """
    if not isinstance(value, str):
        return value
    trimmed = value.strip(" ")
    return None if not trimmed or trimmed.isspace() else trimmed


def with_company_key(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a contact's, from a request) with its ``company_id`` as ``company_key`` has it."""
    if "company_id" in values:
        values["company_id"] = company_key(values["company_id"])
    return values


def upsert_company(store: Store, company_id: str, values: Mapping[str, Any], *, now: datetime,
                   changed_at: datetime | None = None, source: str = "api") -> tuple[bool, list[str]]:
    """Create or update a company; returns (created, the companies whose account scores to redo).

    As ``api/writes.upsert_contact``: a change is true from ``changed_at`` (default ``now``); a new
    company's values are assumed to have held since its ``created_at``, unless ``changed_at`` says
    from when (then it was created then, and its values are changes at that moment).
    """
    con = store.con
    row = con.execute("SELECT domain FROM companies WHERE company_id = ? LIMIT 1", [company_id]).fetchone()
    if row is None:
        names = list(values)
        cols = ["company_id", *names]
        params: list[Any] = [company_id, *values.values()]
        born = change_instant(changed_at, now)
        for stamp in ("created_at", "updated_at"):
            if stamp not in values:
                cols.append(stamp)
                params.append(born)
        con.execute(f"INSERT INTO companies ({', '.join(map(quoted, cols))}) VALUES ({', '.join('?' * len(cols))})",
                    params)
        if changed_at is not None:
            record_initial_values(con, company_id, names, changed_at=changed_at, source=source, now=now,
                                  level=COMPANIES)
        return True, _with_domains(store, [company_id], [values.get("domain")])
    old_domain = row[0]
    diff = write_properties(con, company_id, values, source=source, now=now, changed_at=changed_at,
                            bump_updated_at=True, level=COMPANIES)
    if not diff:
        return False, []
    domains = [old_domain, diff["domain"]] if "domain" in diff else []
    return False, _with_domains(store, [company_id], domains)


def _with_domains(store: Store, ids: list[str], domains: list[Any]) -> list[str]:
    """``ids`` plus, when contacts match by domain, every company holding one of ``domains``."""
    wanted = [d for d in domains if d is not None]
    if not store.match_by_domain or not wanted:
        return ids
    rows = store.con.execute("SELECT DISTINCT company_id FROM companies WHERE domain IN (SELECT UNNEST(?))",
                             [wanted]).fetchall()
    return list(dict.fromkeys([*ids, *(str(r[0]) for r in rows)]))


def companies_left(store: Store, contact_id: str, values: Mapping[str, Any]) -> list[str]:
    """The companies ``contact_id`` belongs to now, when ``values`` may move it (read before the write)."""
    if "company_id" not in values and not (store.match_by_domain and "email" in values):
        return []
    return companies_of(store, [contact_id])


def companies_moved_out(store: Store, contact_id: str, before: list[str]) -> list[str]:
    """Of ``before`` (``companies_left``, read before the write), the companies ``contact_id`` is
    no longer in: they lost a contact, so their account scores must be recomputed too."""
    if not before:
        return []
    now = companies_of(store, [contact_id])
    return [c for c in before if c not in now]
