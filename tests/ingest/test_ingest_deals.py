"""Deals: stage names to won/lost/open, amounts, upsert by deal_id, Olist-style constants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult, load_mapping
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]

PIPELINE = (
    "Record ID,Contact ID,Deal Name,Deal Stage,Amount,Create Date,Close Date,Pipeline\n"
    "D1,1,Acme renewal,Closed Won,12000.50,2024-01-10,2024-02-01,default\n"
    "D2,1,Acme upsell,closedlost,3000,2024-01-11,2024-02-02,default\n"
    "D3,2,Beta new,Closed-Lost,,2024-01-12,,default\n"
    "D4,2,Beta pilot,contractsent,500,2024-01-13,,default\n"
    "D5,3,Gamma,Negotiation/Review,7.5,2024-01-14,,sales\n"
    "D6,3,Gamma 2,Verbal yes,1,2024-01-15,,sales\n"
    "D7,3,Gamma 3,won,lots,2024-01-16,,sales\n"
)


def test_stage_names_map_to_status(run: Run, write: Write, store: Store) -> None:
    result = run("deals", write("deals.csv", PIPELINE))
    assert (result.inserted, result.rejected) == (5, 2)
    assert rows(store, "SELECT deal_id, contact_id, name, status, amount, created_at, closed_at, pipeline "
                       "FROM deals ORDER BY 1") == [
        ("D1", "1", "Acme renewal", "won", 12000.5, datetime(2024, 1, 10), datetime(2024, 2, 1), "default"),
        ("D2", "1", "Acme upsell", "lost", 3000.0, datetime(2024, 1, 11), datetime(2024, 2, 2), "default"),
        ("D3", "2", "Beta new", "lost", None, datetime(2024, 1, 12), None, "default"),
        ("D4", "2", "Beta pilot", "open", 500.0, datetime(2024, 1, 13), None, "default"),
        ("D5", "3", "Gamma", "open", 7.5, datetime(2024, 1, 14), None, "sales")]
    assert [(r["line"], r["reason"]) for r in read_rejects(result.rejects_file)] == [
        ("7", "status: unknown value Verbal yes (expected won, lost or open; map it under values: status)"),
        ("8", "amount: lots is not a number")]
    assert result.unknown_contacts == 5


def test_value_map_covers_custom_stages(run: Run, write: Write, store: Store) -> None:
    mapping = ColumnMapping(values={"status": {"verbal yes": "won", "Won": "open"}})
    result = run("deals", write("deals.csv", PIPELINE), mapping=mapping)
    assert result.rejected == 1
    assert rows(store, "SELECT deal_id, status FROM deals WHERE deal_id IN ('D6', 'D7')") == [("D6", "won")]


def test_upsert_moves_a_deal_through_the_pipeline(run: Run, write: Write, store: Store) -> None:
    run("deals", write("a.csv", "deal_id,contact_id,status,amount\nD1,1,open,100\nD2,1,open,50\n"))
    result = run("deals", write("b.csv", "deal_id,contact_id,status,closed_at\nD1,1,won,2024-06-01\n"
                                         "D2,1,open,\n"))
    assert (result.inserted, result.updated, result.duplicates) == (0, 1, 1)
    assert rows(store, "SELECT deal_id, status, amount, closed_at FROM deals ORDER BY 1") == [
        ("D1", "won", 100.0, datetime(2024, 6, 1)), ("D2", "open", 50.0, None)]


def test_generated_deal_ids_survive_a_status_change(run: Run, write: Write, store: Store) -> None:
    run("deals", write("a.csv", "contact_id,name,status,created_at\n1,Big,open,2024-01-01\n"))
    result = run("deals", write("b.csv", "contact_id,name,status,created_at\n1,Big,won,2024-01-01\n"))
    assert (result.inserted, result.updated) == (0, 1)
    assert rows(store, "SELECT status FROM deals") == [("won",)]
    assert rows(store, "SELECT deal_id FROM deals")[0][0].startswith("d_")


def test_olist_closed_deals_with_a_mapping_file(run: Run, write: Write, store: Store,
                                               tmp_path: Path) -> None:
    export = ("mql_id,seller_id,sdr_id,won_date,business_segment,declared_monthly_revenue,has_company\n"
              "5f4b,2c43,a8387,2018-02-26 19:58:54,pet,0.0,\n"
              "0b0c,8b8b,09285,2018-05-08 20:17:59,car_accessories,1000000.0,True\n")
    (tmp_path / "olist.yml").write_text(
        "id_column: seller_id\n"
        "columns: {mql_id: contact_id, won_date: closed_at, declared_monthly_revenue: amount,"
        " sdr_id: null}\n"
        "constants: {status: won, pipeline: olist}\n")
    result = run("deals", write("olist_closed_deals_dataset.csv", export),
                 mapping=load_mapping(tmp_path / "olist.yml"))
    assert (result.inserted, result.rejected) == (2, 0)
    assert rows(store, "SELECT deal_id, contact_id, status, amount, closed_at, pipeline, has_company "
                       "FROM deals ORDER BY 1") == [
        ("2c43", "5f4b", "won", 0.0, datetime(2018, 2, 26, 19, 58, 54), "olist", None),
        ("8b8b", "0b0c", "won", 1000000.0, datetime(2018, 5, 8, 20, 17, 59), "olist", True)]


def test_deals_need_a_status(run: Run, write: Write) -> None:
    with pytest.raises(ImportError_, match=r"`status` column.*constants: \{status: won\}"):
        run("deals", write("d.csv", "deal_id,contact_id\nD1,1\n"))


def test_deal_contact_by_email(run: Run, write: Write, store: Store) -> None:
    run("contacts", write("c.csv", "contact_id,email\nC9,buyer@x.com\n"))
    result = run("deals", write("d.csv", "Email,Stage,Amount\nBUYER@x.com,Closed Won,10\n"))
    assert (result.inserted, result.unknown_contacts) == (1, 0)
    assert rows(store, "SELECT contact_id, status FROM deals") == [("C9", "won")]
