"""Contacts: upsert by id or e-mail, typed custom columns, rejects, CRM exports as they come."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult, load_mapping
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Company Name,Number of Employees,Create Date,"
    "Lifecycle Stage,Contact owner,Job Title,Lead Source,Annual Revenue,Is Partner\n"
    "101,Ann,Lee,ann@acme.com,Acme,250,2024-03-01 09:30,lead,Sam,CMO,Organic Search,1200000.50,No\n"
    "102,Bob,Ray,bob@beta.io,Beta,12,2024-03-02T10:00:00Z,subscriber,Sam,Engineer,Paid Social,,yes\n"
)


def test_hubspot_export_imports_unchanged(run: Run, write: Write, store: Store) -> None:
    result = run("contacts", write("hubspot.csv", HUBSPOT))
    assert (result.inserted, result.rejected) == (2, 0)
    assert result.columns_added == ["annual_revenue", "is_partner"]
    assert rows(store, "SELECT contact_id, first_name, email, company, company_size, created_at, "
                       "lifecycle_stage, owner, job_title, lead_source, annual_revenue, is_partner "
                       "FROM contacts ORDER BY 1") == [
        ("101", "Ann", "ann@acme.com", "Acme", 250, datetime(2024, 3, 1, 9, 30), "lead", "Sam", "CMO",
         "Organic Search", 1200000.5, False),
        ("102", "Bob", "bob@beta.io", "Beta", 12, datetime(2024, 3, 2, 10, 0), "subscriber", "Sam",
         "Engineer", "Paid Social", None, True)]
    assert store.columns("contacts")["annual_revenue"] == "number"
    assert store.columns("contacts")["is_partner"] == "boolean"


def test_custom_column_types_are_inferred_from_all_values(run: Run, write: Write, store: Store) -> None:
    text = ("email,visits,ratio,trial,first_seen,zip,mixed,empty\n"
            "a@x.com,3,0.5,y,2024-01-31,02134,1,\n"
            "b@x.com,-4,2,N,31/01/2024 10:00,90210,x,\n"
            "c@x.com,,1e3,,,12345,2.5,\n")
    result = run("contacts", write("c.csv", text))
    types = store.column_types("contacts")
    assert {c: types[c] for c in result.columns_added} == {
        "visits": "BIGINT", "ratio": "DOUBLE", "trial": "BOOLEAN", "first_seen": "TIMESTAMP",
        "zip": "VARCHAR", "mixed": "VARCHAR", "empty": "VARCHAR"}
    assert rows(store, "SELECT first_seen FROM contacts ORDER BY email") == [
        (datetime(2024, 1, 31),), (datetime(2024, 1, 31, 10),), (None,)]
    assert rows(store, "SELECT zip FROM contacts ORDER BY email")[0] == ("02134",)


def test_value_not_fitting_an_existing_custom_column_is_rejected(run: Run, write: Write,
                                                               store: Store) -> None:
    run("contacts", write("a.csv", "email,visits\na@x.com,3\n"))
    result = run("contacts", write("b.csv", "email,visits\nb@x.com,many\nc@x.com,4\n"))
    assert (result.inserted, result.rejected, result.columns_added) == (1, 1, [])
    assert read_rejects(result.rejects_file) == [
        {"line": "2", "reason": "visits: many is not a whole number", "email": "b@x.com", "visits": "many"}]


def test_upsert_by_id_updates_only_the_columns_in_the_file(run: Run, write: Write,
                                                           store: Store) -> None:
    run("contacts", write("a.csv", "contact_id,email,job_title,country\n1,a@x.com,CEO,FR\n2,b@x.com,CTO,DE\n"))
    result = run("contacts", write("b.csv", "contact_id,job_title\n1,Founder\n2,CTO\n3,Intern\n"))
    assert (result.inserted, result.updated, result.duplicates) == (1, 1, 1)
    assert rows(store, "SELECT contact_id, email, job_title, country FROM contacts ORDER BY 1") == [
        ("1", "a@x.com", "Founder", "FR"), ("2", "b@x.com", "CTO", "DE"), ("3", None, "Intern", None)]


def test_reimport_changes_nothing(run: Run, write: Write, store: Store) -> None:
    path = write("h.csv", HUBSPOT)
    run("contacts", path)
    again = run("contacts", path)
    assert (again.inserted, again.updated, again.duplicates, again.columns_added) == (0, 0, 2, [])


def test_last_row_wins_within_a_file(run: Run, write: Write, store: Store) -> None:
    result = run("contacts", write("d.csv", "contact_id,job_title\n1,A\n1,B\n2,C\n"))
    assert (result.inserted, result.duplicates) == (2, 1)
    assert rows(store, "SELECT job_title FROM contacts WHERE contact_id = '1'") == [("B",)]


def email_id(email: str) -> str:
    return "c_" + hashlib.sha1(email.lower().encode()).hexdigest()[:16]


def test_upsert_by_email_keeps_existing_ids(run: Run, write: Write, store: Store) -> None:
    run("contacts", write("a.csv", "contact_id,email,first_name\n42,Ann@Acme.com,Ann\n"))
    result = run("contacts", write("b.csv", "Email,Job Title\nann@acme.COM,CMO\nnew@x.com,CEO\n"))
    assert (result.inserted, result.updated) == (1, 1)
    assert rows(store, "SELECT contact_id, email, first_name, job_title FROM contacts ORDER BY 2") == [
        ("42", "ann@acme.COM", "Ann", "CMO"), (email_id("new@x.com"), "new@x.com", None, "CEO")]
    again = run("contacts", write("c.csv", "email,job_title\nNEW@x.com,CEO\n"))
    assert (again.inserted, again.updated, again.duplicates) == (0, 1, 0)  # only the e-mail's case changed


def test_rows_without_id_or_email_are_rejected(run: Run, write: Write) -> None:
    result = run("contacts", write("x.csv", "contact_id,email,first_name\n,,Ann\n1,,Bob\n,c@x.com,Cy\n"))
    assert (result.inserted, result.rejected) == (2, 1)
    assert read_rejects(result.rejects_file)[0]["reason"] == "no contact_id and no email"


def test_file_without_id_or_email_column_is_refused(run: Run, write: Write) -> None:
    with pytest.raises(ImportError_, match="contact id column or an email column"):
        run("contacts", write("x.csv", "name,company\nAnn,Acme\n"))


def test_salesforce_export_with_a_mapping_file(run: Run, write: Write, store: Store,
                                               tmp_path: Path) -> None:
    export = ("Lead ID;Nom;E-mail;Société;Effectif;Date de création;Statut\n"
              "00Q1;Dupont;jd@ex.fr;Énergie SA;1 200;05/03/2024;Chaud\n"
              "00Q2;Martin;pm@ex.fr;Bâtiment;35;25/12/2023;Froid\n")
    mapping_file = tmp_path / "salesforce-fr.yml"
    mapping_file.write_text(
        "id_column: Lead ID\ncolumns:\n  Nom: last_name\n  Société: company\n  Effectif: employees_text\n"
        "  Date de création: created_at\n  Statut: null\n"
        "values:\n  employees_text: {'1 200': '1200'}\n")
    result = run("contacts", write("sf.csv", export, "latin-1"), mapping=load_mapping(mapping_file))
    assert (result.inserted, result.rejected) == (2, 0)
    assert rows(store, "SELECT contact_id, last_name, email, company, employees_text, created_at "
                       "FROM contacts ORDER BY 1") == [
        ("00Q1", "Dupont", "jd@ex.fr", "Énergie SA", 1200, datetime(2024, 3, 5)),
        ("00Q2", "Martin", "pm@ex.fr", "Bâtiment", 35, datetime(2023, 12, 25))]
    assert "statut" not in store.column_types("contacts")


def test_cli_style_flags(run: Run, write: Write, store: Store) -> None:
    mapping = ColumnMapping().with_flags(id_column="Customer No", columns=["Mail=email"])
    run("contacts", write("f.csv", "Customer No,Mail\nK-1,k@x.com\n"), mapping=mapping)
    assert rows(store, "SELECT contact_id, email FROM contacts") == [("K-1", "k@x.com")]


def test_builtin_typed_columns_reject_bad_values(run: Run, write: Write) -> None:
    text = ("email,company_size,created_at\n"
            "a@x.com,12.0,2024-01-01\n"       # 12.0 is a whole number
            "b@x.com,12.5,2024-01-01\n"
            "c@x.com,12,yesterday\n")
    result = run("contacts", write("t.csv", text))
    assert (result.inserted, result.rejected) == (1, 2)
    assert [r["reason"] for r in read_rejects(result.rejects_file)] == [
        "company_size: 12.5 is not a whole number", "created_at: yesterday is not a date or timestamp"]


def test_day_month_order_is_decided_per_column(run: Run, write: Write, store: Store) -> None:
    text = "email,created_at,renewal\na@x.com,03/04/2024,04/13/2024\nb@x.com,25/04/2024,05/01/2024\n"
    result = run("contacts", write("d.csv", text))
    assert result.rejected == 0
    assert rows(store, "SELECT created_at, renewal FROM contacts ORDER BY email") == [
        (datetime(2024, 4, 3), datetime(2024, 4, 13)), (datetime(2024, 4, 25), datetime(2024, 5, 1))]


def test_ambiguous_day_month_rejects_with_a_hint_unless_mapped(run: Run, write: Write,
                                                              store: Store) -> None:
    path = write("d.csv", "email,created_at\na@x.com,03/04/2024\nb@x.com,2024-05-06\n")
    result = run("contacts", path)
    assert (result.inserted, result.rejected) == (1, 1)
    assert "ambiguous day/month order" in read_rejects(result.rejects_file)[0]["reason"]
    assert any("day/month" in w for w in result.warnings)
    fixed = run("contacts", path, mapping=ColumnMapping(date_format="mdy"))
    assert (fixed.inserted, fixed.rejected) == (1, 0)
    assert rows(store, "SELECT created_at FROM contacts WHERE email = 'a@x.com'") == [(datetime(2024, 3, 4),)]


def test_names_are_sanitised_and_quoted(run: Run, write: Write, store: Store) -> None:
    text = 'email,"Weird ""Name"" ; DROP TABLE contacts",select,Größe (cm)\na@x.com,1,2,3\n'
    result = run("contacts", write("w.csv", text))
    assert result.columns_added == ["weird_name_drop_table_contacts", "select", "grosse_cm"]
    assert rows(store, 'SELECT "select", grosse_cm FROM contacts') == [(2, 3)]


def test_inference_looks_past_the_sample(run: Run, write: Write, store: Store) -> None:
    n = 12_000  # more rows than the sample the type is guessed from
    lines = ["email,late_float,late_text,late_start,late_bool"]
    for i in range(n):
        last = i == n - 1
        lines.append(f"u{i}@x.com,{'2.5' if last else i},{'n/a' if last else i},"
                     f"{i if i > n - 5 else ''},{'yes' if last else i % 2}")
    result = run("contacts", write("big.csv", "\n".join(lines) + "\n"))
    assert result.rejected == 0
    types = store.column_types("contacts")
    assert {c: types[c] for c in result.columns_added} == {
        "late_float": "DOUBLE", "late_text": "VARCHAR", "late_start": "BIGINT", "late_bool": "BOOLEAN"}


def test_parquet_nested_values_become_text(run: Run, tmp_path: Path, store: Store) -> None:
    path = tmp_path / "nested.parquet"
    duckdb.sql("SELECT 'a@x.com' AS email, [1, 2] AS tags, {'k': 'v'} AS meta").write_parquet(str(path))
    assert run("contacts", path).inserted == 1
    assert rows(store, "SELECT tags, meta FROM contacts") == [("[1, 2]", "{'k': v}")]


def test_a_row_with_only_an_email_joins_the_row_of_the_same_file_that_gives_it_an_id(
        run: Run, write: Write, store: Store) -> None:
    path = write("mixed.csv", "contact_id,email,first_name\nc5,dave@x.com,Dave\n,DAVE@x.com,David\n")
    run("contacts", path)
    assert rows(store, "SELECT contact_id FROM contacts") == [("c5",)]  # one address, one contact
    before = rows(store, "SELECT * FROM contacts")
    again = run("contacts", path)
    assert (again.inserted, again.updated) == (0, 0) and rows(store, "SELECT * FROM contacts") == before


def test_a_malformed_header_is_an_error_not_an_empty_import(run: Run, write: Write, store: Store) -> None:
    with pytest.raises(ImportError_, match="stray quote"):
        run("contacts", write("h.csv", 'contact_id,"a"b,x\nc1,a,b\nc2,c,d\n'))
    assert "ab" not in store.columns("contacts")  # nothing of the import stayed


def test_long_codes_and_plus_signs_stay_text(run: Run, write: Write, store: Store) -> None:
    run("contacts", write("codes.csv", "contact_id,account_code,mobile,visits\n"
                                       "k1,12345678901234567890123,+4915112345678,3\n"
                                       "k2,99999999999999999999999,+4915112345679,-2\n"))
    types = store.column_types("contacts")
    assert (types["account_code"], types["mobile"], types["visits"]) == ("VARCHAR", "VARCHAR", "BIGINT")
    assert rows(store, "SELECT account_code, mobile FROM contacts WHERE contact_id = 'k1'") == [
        ("12345678901234567890123", "+4915112345678")]  # every digit, and the plus


def test_zone_names_are_instants(run: Run, write: Write, store: Store) -> None:
    result = run("contacts", write("zones.csv", "contact_id,created_at\nz1,2024-01-01 12:00:00 EST\n"
                                               "z2,2024-01-01T12:00:00 CET\nz3,2024-01-01 12:00:00 America/New_York\n"
                                               "z4,2024-01-01 12:00:00\nz5,2024-07-01 12:00:00 Mars/Olympus\n"))
    assert (result.inserted, result.rejected) == (4, 1)  # an unknown zone is rejected, not dropped
    assert rows(store, "SELECT contact_id, created_at FROM contacts ORDER BY 1") == [
        ("z1", datetime(2024, 1, 1, 17)), ("z2", datetime(2024, 1, 1, 11)), ("z3", datetime(2024, 1, 1, 17)),
        ("z4", datetime(2024, 1, 1, 12))]


@pytest.mark.parametrize(("date_format", "values", "expected"), [
    ("dmy", ("05/01/2024", "06/01/2024"), (datetime(2024, 1, 5), datetime(2024, 1, 6))),
    ("%d.%m.%Y", ("05.01.2024", "31.12.2024"), (datetime(2024, 1, 5), datetime(2024, 12, 31))),
])
def test_date_format_decides_a_new_columns_type(run: Run, write: Write, store: Store, date_format: str,
                                                values: tuple[str, str], expected: tuple[datetime, datetime]) -> None:
    path = write("seen.csv", f"contact_id,seen\nd1,{values[0]}\nd2,{values[1]}\n")
    result = run("contacts", path, mapping=ColumnMapping(date_format=date_format))
    assert result.rejected == 0 and store.column_types("contacts")["seen"] == "TIMESTAMP"
    assert rows(store, "SELECT seen FROM contacts ORDER BY contact_id") == [(expected[0],), (expected[1],)]


def test_an_excel_windows_1252_file_imports_with_its_euro_signs(run: Run, write: Write, store: Store) -> None:
    lines = ["contact_id,company,note"] + [f"w{i},Société {i},ok" for i in range(100)] + ["w100,Café,5€ “deal”"]
    result = run("contacts", write("excel.csv", ("\r\n".join(lines) + "\r\n").encode("cp1252")))
    assert (result.inserted, result.rejected) == (101, 0)
    assert rows(store, "SELECT company, note FROM contacts WHERE contact_id = 'w100'") == [("Café", "5€ “deal”")]
    assert rows(store, "SELECT company FROM contacts WHERE contact_id = 'w7'") == [("Société 7",)]


def test_a_header_longer_than_the_first_sample_is_read_whole(run: Run, write: Write, store: Store) -> None:
    names = [f"p{i:03d}_" + "x" * 600 for i in range(120)]  # ~72 KiB of header: past the 64 KiB sample
    text = "contact_id," + ",".join(names) + "\n" + "h1," + ",".join("v" for _ in names) + "\n"
    result = run("contacts", write("wide.csv", text))
    assert (result.inserted, result.rejected) == (1, 0) and len(result.columns_added) == 120
    assert rows(store, f'SELECT "{names[-1]}" FROM contacts') == [("v",)]
