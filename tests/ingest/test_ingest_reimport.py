"""A contacts import that would store people already there under new ids stops before writing
(ingest/reimport.py), unless ``allow_new_ids``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.ingest.helpers import rows

from leadscore.bench.predictive import find_leads_csv
from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult, import_file
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]
LEADS = find_leads_csv()


def test_the_same_people_under_other_ids_and_known_emails_stop_the_import(store: Store, write: Write,
                                                                          run: Run) -> None:
    run("contacts", write("a.csv", "Record ID,Email\nr1,ann@x.com\nr2,bob@x.com\nr3,cy@x.com\n"))
    again = write("b.csv", "Contact Number,Email\n101, Ann@X.com \n102,bob@x.com\n103,new@x.com\n")
    with pytest.raises(ImportError_) as caught:
        run("contacts", again, mapping=ColumnMapping(id_column="Contact Number"))
    message = str(caught.value)
    assert "3 of 3 rows would be new contacts" in message and "e-mail of a contact already stored" in message
    assert "`Contact Number`" in message and "--allow-new-ids" in message and "nothing was imported" in message
    assert rows(store, "SELECT count(*) FROM contacts") == [(3,)]
    assert rows(store, "SELECT count(*) FROM imports") == [(1,)]
    result = run("contacts", again, mapping=ColumnMapping(id_column="Contact Number"), allow_new_ids=True)
    assert result.inserted == 3


def test_new_contacts_and_a_few_known_emails_import_as_usual(store: Store, write: Write, run: Run) -> None:
    run("contacts", write("a.csv", "Record ID,Email\nr1,ann@x.com\n"))
    result = run("contacts", write("b.csv", "Record ID,Email\nr2,ann@x.com\nr3,b@x.com\nr4,c@x.com\n"))
    assert result.inserted == 3  # one of three shares an address: a person with two records, not a re-import


def test_another_column_holding_the_stored_ids_stops_the_import(store: Store, write: Write, run: Run) -> None:
    run("contacts", write("a.csv", "Prospect ID,Lead Number,City\np-1,1,Oslo\np-2,2,Rome\n"))
    with pytest.raises(ImportError_) as caught:
        run("contacts", write("a.csv", "Prospect ID,Lead Number,City\np-1,1,Oslo\np-2,2,Rome\n"),
            mapping=ColumnMapping(id_column="Lead Number"))
    assert 'column `Prospect ID` holds the id of a stored contact' in str(caught.value)
    assert '--id-column "Prospect ID"' in str(caught.value)


@pytest.mark.skipif(LEADS is None, reason="Leads.csv not found (see tests/predict/test_quality_leads.py)")
def test_x_education_leads_imported_again_by_lead_number_is_refused(tmp_path: Path) -> None:
    assert LEADS is not None
    with Store.open(tmp_path / "s.duckdb") as store:
        assert import_file(store, "contacts", LEADS, rejects_dir=tmp_path).inserted == 9240
        with pytest.raises(ImportError_, match="Prospect ID"):
            import_file(store, "contacts", LEADS, mapping=ColumnMapping(id_column="Lead Number"),
                        rejects_dir=tmp_path)
        assert store.count("contacts") == 9240
