"""File formats, encodings, delimiters, and the line numbers of rejected rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]


def test_latin1_file_is_detected(run: Run, write: Write, store: Store) -> None:
    path = write("latin.csv", "email;Company;City\njose@x.com;Société Générale;Köln\n", "latin-1")
    result = run("contacts", path)
    assert (result.inserted, result.rejected) == (1, 0)
    assert rows(store, "SELECT company, city FROM contacts") == [("Société Générale", "Köln")]


def test_utf8_with_bom_and_tabs(run: Run, write: Write, store: Store) -> None:
    path = write("bom.tsv", "\ufeffEmail\tJob Title\nann@x.com\tCEO\n")
    assert run("contacts", path).inserted == 1
    assert rows(store, "SELECT email, job_title FROM contacts") == [("ann@x.com", "CEO")]


def test_utf8_file_with_a_corrupt_row_rejects_only_that_row(run: Run, write: Write,
                                                            store: Store) -> None:
    good = "".join(f"user{i}@x.com,Zoë Müller {i}\n" for i in range(50))
    data = ("email,first_name\n" + good).encode() + b"bad@x.com,caf\xe9 \xff\xfe\n" + b"z@x.com,ok\n"
    result = run("contacts", write("mostly-utf8.csv", data))
    assert (result.inserted, result.rejected) == (51, 1)
    [reject] = read_rejects(result.rejects_file)
    assert reject["line"] == "52" and "not valid text" in reject["reason"]
    assert rows(store, "SELECT first_name FROM contacts WHERE email = 'user7@x.com'") == [("Zoë Müller 7",)]


def test_latin1_past_the_sample_is_still_latin1(run: Run, write: Write, store: Store) -> None:
    filler = "".join(f"u{i}@x.com,plain\n" for i in range(80_000))  # more than the 1 MiB sample
    data = ("email,first_name\n" + filler).encode() + "late@x.com,Zoé\n".encode("latin-1")
    result = run("contacts", write("late-latin1.csv", data))
    assert (result.inserted, result.rejected) == (80_001, 0)
    assert rows(store, "SELECT first_name FROM contacts WHERE email = 'late@x.com'") == [("Zoé",)]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(run: Run, write: Write, store: Store, delimiter: str) -> None:
    text = delimiter.join(["Email", "Company Name", "Notes"]) + "\n"
    text += delimiter.join(["a@x.com", '"Acme, Inc; Ltd"', "x"]) + "\n"
    assert run("contacts", write("d.csv", text)).inserted == 1
    assert rows(store, "SELECT company FROM contacts") == [("Acme, Inc; Ltd",)]


def test_delimiter_from_the_mapping(run: Run, write: Write, store: Store) -> None:
    path = write("d.csv", "email;note,with,commas\na@x.com;1,2,3\n")
    result = run("contacts", path, mapping=ColumnMapping(delimiter=";"))
    assert result.inserted == 1
    assert rows(store, "SELECT note_with_commas FROM contacts") == [("1,2,3",)]


MESSY = (
    'email,company_size,first_name\n'         # 1
    'a@x.com,10,"Ann\n'                       # 2  a value over two lines
    'Marie"\n'                                # 3
    '\n'                                      # 4  blank line
    'b@x.com,lots,Bob\n'                      # 5  bad number
    'c@x.com,1,2,3,4\n'                       # 6  too many fields
    'd@x.com,7\n'                             # 7  too few fields
    'e@x.com,"12",Eve\n'                      # 8
    'f@x.com,1.5,Fay\n'                       # 9  not a whole number
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_rejects_carry_physical_line_numbers(run: Run, write: Write, store: Store,
                                             newline: str) -> None:
    result = run("contacts", write("messy.csv", MESSY.replace("\n", newline)))
    assert (result.rows_read, result.inserted, result.rejected) == (6, 2, 4)
    rejects = read_rejects(result.rejects_file)
    assert [(r["line"], r["email"]) for r in rejects] == [
        ("5", "b@x.com"), ("6", "c@x.com"), ("7", "d@x.com"), ("9", "f@x.com")]
    assert rejects[0]["reason"] == "company_size: lots is not a whole number"
    assert rejects[0]["first_name"] == "Bob" and rejects[0]["company_size"] == "lots"
    assert rejects[1]["reason"].startswith("malformed row: too many fields")
    assert rejects[1]["first_name"] == "2,3,4"  # extra fields kept, not dropped
    assert rejects[2]["reason"].startswith("malformed row: too few fields")
    assert rejects[3]["reason"] == "company_size: 1.5 is not a whole number"
    assert rows(store, "SELECT first_name FROM contacts WHERE email = 'a@x.com'") == [
        (f"Ann{newline}Marie",)]


def test_line_numbers_without_multiline_values(run: Run, write: Write) -> None:
    text = "email,company_size\n\na@x.com,1\n\n\nb@x.com,x\nc@x.com,2,3\nd@x.com,y\n"
    result = run("contacts", write("blanks.csv", text))
    assert [r["line"] for r in read_rejects(result.rejects_file)] == ["6", "7", "8"]


def test_mixed_line_endings_are_read(run: Run, write: Write, store: Store) -> None:
    path = write("mixed.csv", b"email,company_size\na@x.com,1\r\nb@x.com,2\nc@x.com,3,4\nd@x.com,q\r\n")
    result = run("contacts", path)
    assert (result.inserted, result.rejected) == (2, 2)
    assert [(r["line"], r["email"]) for r in read_rejects(result.rejects_file)] == [
        ("4", "c@x.com"), ("5", "d@x.com")]


def test_unterminated_quote_is_a_reject_not_a_crash(run: Run, write: Write) -> None:
    result = run("contacts", write("q.csv", 'email,first_name\na@x.com,Ann\nb@x.com,"Bob\n'))
    assert (result.inserted, result.rejected) == (1, 1)
    assert read_rejects(result.rejects_file)[0]["line"] == "3"


def test_jsonl_lines_blank_lines_and_bad_json(run: Run, write: Write, store: Store) -> None:
    text = ('{"Email": "a@x.com", "Employees": 12, "tags": ["x", 1], "vip": true}\n'
            "\n"
            "not json\n"
            '["an", "array"]\n'
            '{"Email": "b@x.com", "Employees": "many"}\n'
            '{"Email": "c@x.com", "$odd key": 1.5}\n')
    result = run("contacts", write("c.jsonl", text))
    assert (result.rows_read, result.inserted, result.rejected) == (5, 2, 3)
    rejects = read_rejects(result.rejects_file)
    assert [r["line"] for r in rejects] == ["3", "4", "5"]
    assert rejects[0]["reason"] == "not a JSON object: not json"
    assert "company_size: many is not a whole number" in rejects[2]["reason"]
    assert rows(store, "SELECT email, company_size, tags, vip, odd_key FROM contacts ORDER BY 1") == [
        ("a@x.com", 12, '["x",1]', True, None), ("c@x.com", None, None, None, 1.5)]


def test_parquet_keeps_its_types_and_reports_row_numbers(run: Run, tmp_path: Path,
                                                         store: Store) -> None:
    path = tmp_path / "c.parquet"
    duckdb.sql(
        "SELECT * FROM (VALUES ('a@x.com', 5::INTEGER, TIMESTAMPTZ '2024-01-01 12:00:00+02', true, 1.5),"
        " ('b@x.com', NULL, NULL, false, 2.0), (NULL, 7, NULL, NULL, NULL)) "
        "t(email, company_size, created_at, vip, score)").write_parquet(str(path))
    result = run("contacts", path)
    assert (result.inserted, result.rejected) == (2, 1)
    assert read_rejects(result.rejects_file)[0]["line"] == "3"
    assert store.column_types("contacts")["vip"] == "BOOLEAN"
    assert store.column_types("contacts")["score"] == "DOUBLE"
    assert rows(store, "SELECT company_size, CAST(created_at AS VARCHAR) FROM contacts ORDER BY email") == [
        (5, "2024-01-01 10:00:00"), (None, None)]


def test_format_by_extension_or_argument(run: Run, write: Write) -> None:
    with pytest.raises(ImportError_, match="extension"):
        run("contacts", write("c.dat", "email\na@x.com\n"))
    assert run("contacts", write("c.dat", "email\na@x.com\n"), file_format="csv").inserted == 1
    with pytest.raises(ImportError_, match="unknown file format"):
        run("contacts", write("c.dat", "email\n"), file_format="xlsx")


def test_unreadable_inputs_are_import_errors(run: Run, write: Write, tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="no such file"):
        run("contacts", tmp_path / "absent.csv")
    with pytest.raises(ImportError_, match="empty"):
        run("contacts", write("empty.csv", ""))
    with pytest.raises(ImportError_, match="Parquet"):
        run("contacts", write("fake.parquet", "email\na@x.com\n"))
    with pytest.raises(ImportError_, match="unknown kind"):
        run("leads", write("x.csv", "email\n"))


def test_header_only_file_imports_nothing(run: Run, write: Write) -> None:
    result = run("contacts", write("h.csv", "email,first_name\n"))
    assert (result.rows_read, result.inserted, result.rejected, result.rejects_file) == (0, 0, 0, None)
