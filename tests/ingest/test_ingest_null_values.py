"""A user's own words for "empty" (``null_values:`` in the mapping or leadscore.yml), and the most
frequent values of new text columns, printed so such words are easy to spot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.ingest.helpers import rows
from typer.testing import CliRunner

import leadscore
from leadscore.bench.predictive import find_leads_csv
from leadscore.cli.main import app
from leadscore.ingest import ColumnMapping, ImportResult, load_mapping
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]
FORM = ("contact_id,city,occupation,size\nc1,Select,Student,10\nc2,Mumbai,select ,Select\nc3,Mumbai,Unemployed,30\n"
        "c4,Pune,Unemployed,40\n")


def test_null_values_in_the_mapping_are_empty_in_every_column(store: Store, write: Write, run: Run,
                                                              tmp_path: Path) -> None:
    (tmp_path / "map.yml").write_text("null_values: [Select, N/A]\n")
    result = run("contacts", write("c.csv", FORM), mapping=load_mapping(tmp_path / "map.yml"))
    assert result.rejected == 0
    assert rows(store, "SELECT contact_id, city, occupation, size FROM contacts ORDER BY 1") == [
        ("c1", None, "Student", 10), ("c2", "Mumbai", None, None), ("c3", "Mumbai", "Unemployed", 30),
        ("c4", "Pune", "Unemployed", 40)]  # `size` is still a number: `Select` no longer hides that
    assert store.column_types("contacts")["size"] == "BIGINT"


def test_new_text_columns_come_with_their_most_frequent_values(store: Store, write: Write, run: Run) -> None:
    result = run("contacts", write("c.csv", FORM))
    assert result.top_values["occupation"] == [("Unemployed", 2)]  # values seen once are left out
    assert result.top_values["size"] == []  # text, since `Select` is not a number; nothing repeats
    result = run("contacts", write("d.csv", FORM.replace("\nc", "\nd")), mapping=ColumnMapping(null_values=["select"]))
    assert result.top_values == {}  # no new column this time


def test_the_workspace_null_values_and_the_printed_values(tmp_path: Path) -> None:
    ws = leadscore.init(tmp_path / "ws")
    settings = ws.root / "leadscore.yml"
    data = tmp_path / "c.csv"
    data.write_text(FORM)
    out = CliRunner().invoke(app, ["import", "contacts", str(data), "-w", str(ws.root)])
    assert out.exit_code == 0, out.output
    assert "most frequent values" in out.output and "Unemployed (2)" in out.output and "null_values" in out.output
    settings.write_text(settings.read_text().replace("null_values: []", "null_values: [Select]"))
    data.write_text(FORM.replace("c1,", "e1,").replace("c2,", "e2,").replace("c3,", "e3,").replace("c4,", "e4,"))
    leadscore.import_file("contacts", data, workspace=ws.root)
    with leadscore.open_store(ws.root, read_only=True) as store:
        assert rows(store, "SELECT city FROM contacts WHERE contact_id = 'e1'") == [(None,)]


@pytest.mark.skipif(find_leads_csv() is None, reason="Leads.csv not found")
def test_select_in_x_education_leads(tmp_path: Path) -> None:
    leads = find_leads_csv()
    assert leads is not None
    with Store.open(tmp_path / "a.duckdb") as store:
        tops = leadscore.ingest.import_file(store, "contacts", leads, rejects_dir=tmp_path).top_values
        assert tops["lead_profile"][0] == ("Select", 4146)
    with Store.open(tmp_path / "b.duckdb") as store:
        result = leadscore.ingest.import_file(store, "contacts", leads, rejects_dir=tmp_path,
                                              mapping=ColumnMapping(null_values=["Select"]))
        assert result.top_values["lead_profile"][0] == ("Potential Lead", 1613)
        assert rows(store, "SELECT count(*) FROM contacts WHERE lead_profile IS NULL OR city IS NULL")[0][0] > 4146
        assert rows(store, "SELECT count(*) FROM contacts WHERE 'Select' IN (city, lead_profile, specialization)") \
            == [(0,)]
