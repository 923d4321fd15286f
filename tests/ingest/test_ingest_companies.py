"""``leadscore import companies``: same formats, mapping and rejects as contacts; idempotent; domains
stored normalised; contacts and deals carry company_id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult
from leadscore.storage.store import Store

from .helpers import read_rejects, rows

HUBSPOT = """Record ID,Company name,Company Domain Name,Number of Employees,Industry,Company owner,Tier
101,Acme,https://www.Acme.io/about,200,SaaS,ann@x.com,gold
102,Globex,globex.com,5000,Retail,bob@x.com,silver
103,Broken,not a domain,10,SaaS,,bronze
,Nameless,nameless.io,1,SaaS,,
104,Initech,INITECH.COM.,,Fintech,,gold
"""


def test_a_crm_export_imports_with_aliases_custom_columns_and_rejects(
        store: Store, write: Callable[..., Path], run: Callable[..., ImportResult]) -> None:
    result = run("companies", write("companies.csv", HUBSPOT))
    assert (result.inserted, result.updated, result.duplicates, result.rejected) == (3, 0, 0, 2)
    assert result.columns_added == ["tier"]
    assert rows(store, "SELECT company_id, name, domain, employees, owner, tier FROM companies ORDER BY 1") == [
        ("101", "Acme", "acme.io", 200, "ann@x.com", "gold"),
        ("102", "Globex", "globex.com", 5000, "bob@x.com", "silver"),
        ("104", "Initech", "initech.com", None, None, "gold")]
    reasons = {r["line"]: r["reason"] for r in read_rejects(result.rejects_file)}
    assert reasons == {"4": "domain: `not a domain` is not a domain name", "5": "company_id is empty"}


def test_importing_again_changes_nothing_and_a_changed_row_updates_only_it(
        store: Store, write: Callable[..., Path], run: Callable[..., ImportResult]) -> None:
    run("companies", write("a.csv", HUBSPOT))
    again = run("companies", write("b.csv", HUBSPOT))
    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 3)
    changed = run("companies", write("c.csv", "company_id,employees\n101,250\n"))
    assert (changed.inserted, changed.updated) == (0, 1)
    assert rows(store, "SELECT name, employees FROM companies WHERE company_id = '101'") == [("Acme", 250)]


def test_parquet_and_a_mapping_file(store: Store, tmp_path: Path, run: Callable[..., ImportResult]) -> None:
    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.table({"acct": ["k1", "k2"], "site": ["www.k1.io", "http://k2.org/x"], "seats": [3, 4]}), path)
    mapping = ColumnMapping(id_column="acct", columns={"site": "domain"})
    result = run("companies", path, mapping=mapping)
    assert result.inserted == 2
    assert rows(store, "SELECT company_id, domain, seats FROM companies ORDER BY 1") == [
        ("k1", "k1.io", 3), ("k2", "k2.org", 4)]


def test_companies_need_an_id_column(write: Callable[..., Path], run: Callable[..., ImportResult]) -> None:
    with pytest.raises(ImportError_, match="companies need a company id column"):
        run("companies", write("x.csv", "name,domain\nAcme,acme.io\n"))


def test_strict_mode_imports_nothing_on_a_bad_domain(store: Store, write: Callable[..., Path],
                                                     run: Callable[..., ImportResult]) -> None:
    with pytest.raises(ImportError_, match="line 4: domain"):
        run("companies", write("x.csv", HUBSPOT), strict=True)
    assert store.count("companies") == 0


def test_contacts_and_deals_carry_company_id_and_unknown_companies_are_a_warning(
        store: Store, write: Callable[..., Path], run: Callable[..., ImportResult]) -> None:
    run("companies", write("co.csv", "company_id,name\nk1,Acme\n"))
    contacts = run("contacts", write("ct.csv", "contact_id,email,Associated Company ID\n"
                                               "c1,a@acme.io,k1\nc2,b@x.io,k9\nc3,c@y.io,\n"))
    assert contacts.warnings == ["1 rows name a company not imported yet (`leadscore import companies`)"]
    deals = run("deals", write("d.csv", "deal_id,contact_id,status,company_id\nd1,c1,won,k1\n"))
    assert deals.inserted == 1 and not deals.warnings
    assert rows(store, "SELECT contact_id, company_id FROM contacts ORDER BY 1") == [
        ("c1", "k1"), ("c2", "k9"), ("c3", None)]
    assert rows(store, "SELECT company_id FROM deals") == [("k1",)]
