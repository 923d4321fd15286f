"""The importer's companies part: rows keyed by ``company_id``, each domain stored normalised.

``leadscore import companies FILE`` goes through the same steps as contacts (readers, mapping,
types, rejects file, one transaction, idempotent upsert by key; see ``importer.py``). What differs
is here: a company is identified by its own ``company_id`` (there is no e-mail to find it by), and
its ``domain`` is written the one way ``storage/companies.py`` defines, so that
``https://www.Acme.com/`` and a contact's ``ann@acme.com`` meet. A value that is no domain name
after that (spaces, no dot) rejects the row with its reason, rather than silently matching nothing.
"""

from __future__ import annotations

import duckdb

from leadscore.ingest.readers import drop_temp, scalar, sql_name
from leadscore.storage.companies import normalize_domain_sql, not_a_domain_sql


def prepare_company_rows(con: duckdb.DuckDBPyConnection, typed_sql: str, dests: list[str]) -> list[str]:
    """Create ``__ls_rows`` for companies (see ``writers.prepare_rows``); returns the stored columns."""
    carried = [d for d in dests if d.startswith("__")]  # read by the writers, never stored (changed_at)
    stored = [d for d in dests if d != "company_id" and not d.startswith("__")]
    select = ["t.company_id", *(f"t.{sql_name(c)}" for c in carried)]
    checks = ["CASE WHEN t.company_id IS NULL THEN 'company_id is empty' END"]
    bad = ["t.company_id IS NULL"]
    for name in stored:
        if name == "domain":
            domain = normalize_domain_sql("t.domain")
            select.append(f"{domain} AS domain")
            wrong = not_a_domain_sql("t.domain")
            checks.append(f"CASE WHEN {wrong} THEN 'domain: `' || t.domain || '` is not a domain name' END")
            bad.append(wrong)
        else:
            select.append(f"t.{sql_name(name)}")
    verdict = f"(t.__bad OR {' OR '.join(bad)})"
    reason = f"NULLIF(concat_ws('; ', t.__reason, {', '.join(checks)}), '')"
    drop_temp(con, ["__ls_rows"])
    con.execute(f"CREATE TEMP TABLE __ls_rows AS SELECT t.__row, {', '.join(select)}, {verdict} AS __bad, "
                f"CASE WHEN {verdict} THEN {reason} END AS __reason FROM ({typed_sql}) t")
    return ["company_id", *stored]


def unknown_companies(con: duckdb.DuckDBPyConnection) -> int:
    """Good rows of the file (contacts or deals) naming a company that is not imported (yet)."""
    return scalar(con, "SELECT count(*) FROM __ls_rows r WHERE NOT r.__bad AND r.company_id IS NOT NULL "
                       "AND NOT EXISTS (SELECT 1 FROM companies c WHERE c.company_id = r.company_id)")
