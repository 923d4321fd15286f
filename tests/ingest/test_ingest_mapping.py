"""Column names, aliases and mapping files: what a header becomes before any value is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, load_mapping, snake_case
from leadscore.ingest.mapping import plan_columns


@pytest.mark.parametrize(("header", "expected"), [
    ("Lead Source", "lead_source"), ("Job Title", "job_title"), ("firstName", "first_name"),
    ("E-mail", "e_mail"), ("  Number of Employees ", "number_of_employees"),
    ("Société (FR)", "societe_fr"), ("HTTPStatus", "http_status"), ("__x__", "x"), ("2nd Phone", "2nd_phone"),
])
def test_snake_case(header: str, expected: str) -> None:
    assert snake_case(header) == expected


def dests(names: list[str], kind: str, mapping: ColumnMapping | None = None) -> dict[str, str]:
    plan, _ = plan_columns(names, kind, mapping or ColumnMapping())
    return {p.source: p.dest for p in plan}


def test_hubspot_contact_headers_land_on_builtin_columns() -> None:
    headers = ["Record ID", "First Name", "Email", "Company Name", "Number of Employees",
               "Create Date", "Lifecycle Stage", "Contact owner", "Job Title", "Lead Source"]
    assert dests(headers, "contacts") == {
        "Record ID": "contact_id", "First Name": "first_name", "Email": "email",
        "Company Name": "company", "Number of Employees": "company_size", "Create Date": "created_at",
        "Lifecycle Stage": "lifecycle_stage", "Contact owner": "owner", "Job Title": "job_title",
        "Lead Source": "lead_source"}


def test_salesforce_and_pardot_headers() -> None:
    assert dests(["Prospect ID", "Email Address", "Employees", "Created Date", "Owner"], "contacts") == {
        "Prospect ID": "contact_id", "Email Address": "email", "Employees": "company_size",
        "Created Date": "created_at", "Owner": "owner"}
    assert dests(["Activity Type", "Occurred At", "Contact ID"], "events") == {
        "Activity Type": "type", "Occurred At": "occurred_at", "Contact ID": "contact_id"}
    assert dests(["Event Type", "Timestamp"], "events") == {"Event Type": "type", "Timestamp": "occurred_at"}
    assert dests(["Stage", "Amount", "Close Date", "Record ID"], "deals") == {
        "Stage": "status", "Amount": "amount", "Close Date": "closed_at", "Record ID": "deal_id"}


def test_mapping_beats_aliases_and_can_skip_columns() -> None:
    mapping = ColumnMapping(id_column="Email", columns={"Record ID": "crm_id", "Notes": None})
    assert dests(["Record ID", "Email", "Notes"], "contacts", mapping) == {
        "Record ID": "crm_id", "Email": "contact_id"}


def test_mapping_keys_match_normalised_headers() -> None:
    mapping = ColumnMapping(columns={"lead status": "status_text"})
    assert dests(["Lead Status"], "contacts", mapping) == {"Lead Status": "status_text"}


def test_collision_keeps_both_columns_with_a_warning() -> None:
    plan, warnings = plan_columns(["Record ID", "Contact ID"], "contacts", ColumnMapping())
    assert {p.source: p.dest for p in plan} == {"Contact ID": "contact_id", "Record ID": "record_id"}
    assert "Record ID" in warnings[0]


def test_mapping_naming_a_missing_column_is_an_error() -> None:
    with pytest.raises(ImportError_, match="'Nope'.*columns are: a, b"):
        plan_columns(["a", "b"], "contacts", ColumnMapping(columns={"Nope": "x"}))
    with pytest.raises(ImportError_, match="id_column"):
        plan_columns(["a"], "contacts", ColumnMapping(id_column="Id"))


def test_constant_clashing_with_a_file_column_is_an_error() -> None:
    with pytest.raises(ImportError_, match="constant column 'status'"):
        plan_columns(["Deal Stage"], "deals", ColumnMapping(constants={"status": "won"}))


def test_load_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "map.yml"
    path.write_text(
        "id_column: mql_id\n"
        "columns:\n  won_date: closed_at\n  sdr_id: null\n"
        "values:\n  status: {Yes: won, No: lost}\n"
        "constants: {pipeline: olist}\n"
        "date_format: DD/MM/YYYY\ndelimiter: tab\nencoding: ISO-8859-1\n")
    mapping = load_mapping(path)
    assert mapping.id_column == "mql_id"
    assert mapping.columns == {"won_date": "closed_at", "sdr_id": None}
    assert mapping.values == {"status": {"Yes": "won", "No": "lost"}}  # not True/False
    assert mapping.constants == {"pipeline": "olist"}
    assert (mapping.date_format, mapping.delimiter, mapping.encoding) == ("dmy", "\t", "latin-1")


@pytest.mark.parametrize(("text", "message"), [
    ("id_colum: x\n", "id_colum"),
    ("date_format: someday\n", "date_format"),
    ("delimiter: ';;'\n", "delimiter"),
    ("encoding: ebcdic\n", "encoding"),
    ("- a\n- b\n", "YAML object"),
    ("columns: [\n", "not valid YAML"),
])
def test_bad_mapping_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.yml"
    path.write_text(text)
    with pytest.raises(ImportError_, match=message):
        load_mapping(path)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="cannot read the mapping file"):
        load_mapping(tmp_path / "absent.yml")


def test_cli_flags_on_top_of_a_file() -> None:
    base = ColumnMapping(columns={"A": "a"})
    merged = base.with_flags(id_column="Id", columns=["B=b", "C="])
    assert merged.id_column == "Id" and merged.columns == {"A": "a", "B": "b", "C": None}
    assert base.columns == {"A": "a"}
    with pytest.raises(ImportError_, match="SOURCE=DEST"):
        base.with_flags(columns=["nonsense"])


def test_mapping_files_that_cannot_work_fail_when_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yml"
    latin.write_bytes("columns: {Société: company}\n".encode("latin-1"))
    with pytest.raises(ImportError_, match="not UTF-8"):
        load_mapping(latin)
    bad_format = tmp_path / "fmt.yml"
    bad_format.write_text("date_format: '%Q'\n")
    with pytest.raises(ImportError_, match="strptime"):
        load_mapping(bad_format)
    assert ColumnMapping(constants={"__bad": "x", "Lead Source": "web"}).constants == {
        "bad": "x", "lead_source": "web"}  # named like a header, never like the importer's own columns
