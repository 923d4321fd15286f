"""A quote opened and never closed on its line: the line is rejected with where the quote opened and
how many lines it swallowed, and the good rows it swallowed still import (ingest/quotes.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.ingest.helpers import read_rejects, rows

from leadscore.ingest import ImportResult
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]


def test_a_stray_quote_closed_rows_later_loses_no_good_row(store: Store, write: Write, run: Run) -> None:
    path = write("c.csv", 'contact_id,email,job_title\nc1,a@x.com,CEO\nc2,"b@x.com,CTO\nc3,c@x.com,CMO\n'
                          'c4,"d@x.com",VP\nc5,e@x.com,Dev\n')
    result = run("contacts", path)
    assert (result.inserted, result.rejected) == (4, 1)
    assert rows(store, "SELECT contact_id, email, job_title FROM contacts ORDER BY 1") == [
        ("c1", "a@x.com", "CEO"), ("c3", "c@x.com", "CMO"), ("c4", "d@x.com", "VP"), ("c5", "e@x.com", "Dev")]
    [reject] = read_rejects(result.rejects_file)
    assert reject["line"] == "3" and reject["contact_id"] == "c2"
    assert "ran across 2 more line(s) (to line 5)" in reject["reason"]
    assert any("line 3" in w and "swallowed 2 more line(s)" in w for w in result.warnings)


def test_a_quote_never_closed_reports_every_line_after_it_separately(store: Store, write: Write, run: Run) -> None:
    path = write("c.csv", 'contact_id,email,job_title\r\nc1,a@x.com,CEO\r\nc2,"b@x.com,CTO\r\nc3,c@x.com\r\n'
                          'c4,d@x.com,VP\r\n')
    result = run("contacts", path)
    assert rows(store, "SELECT contact_id FROM contacts ORDER BY 1") == [("c1",), ("c4",)]
    rejects = {r["line"]: r["reason"] for r in read_rejects(result.rejects_file)}
    assert set(rejects) == {"3", "4"}  # the quote's line, and a swallowed line that is bad on its own
    assert "ran across 2 more line(s)" in rejects["3"] and "too few fields" in rejects["4"]


def test_a_swallowed_line_that_opens_a_quote_too(store: Store, write: Write, run: Run) -> None:
    path = write("c.csv", 'contact_id,email,job_title\nc1,"a@x.com,CEO\nc2,"b@x.com,CTO\nc3,c@x.com,CMO\n')
    result = run("contacts", path)
    assert rows(store, "SELECT contact_id FROM contacts") == [("c3",)]
    assert sorted(r["line"] for r in read_rejects(result.rejects_file)) == ["2", "3"]


def test_a_real_multi_line_value_is_left_alone(store: Store, write: Write, run: Run) -> None:
    path = write("c.csv", 'contact_id,email,city\nc1,a@x.com,"Main St 1\nSpringfield"\nc2,b@x.com,Oslo\n'
                          'c3,"c@x.com,Rome\nc4,d@x.com,Bern\n')
    result = run("contacts", path)
    assert rows(store, "SELECT contact_id, city FROM contacts ORDER BY 1") == [
        ("c1", "Main St 1\nSpringfield"), ("c2", "Oslo"), ("c4", "Bern")]
    [reject] = read_rejects(result.rejects_file)
    assert reject["line"] == "5" and "1 more line(s)" in reject["reason"]  # physical line, after the 2-line value
