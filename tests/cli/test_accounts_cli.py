"""Accounts from the command line, as a user types them: import companies, score, top, explain,
export and compile at the account level."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tests.accounts.helpers import build
from typer.testing import CliRunner

from leadscore.cli.main import app

runner = CliRunner()


def run(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    else:
        assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli") / "ws"
    build(root)
    run("score", "--as-of", "2025-06-30", "-w", str(root))
    return str(root)


def test_import_companies_reports_rows_and_rejects(tmp_path: Path) -> None:
    ws = str(build(tmp_path / "ws").root)
    f = tmp_path / "more.csv"
    f.write_text("Account ID,Account Name,Website\nk9,Nine,https://nine.io/\nk10,Ten,not a domain\n")
    out = json.loads(run("import", "companies", str(f), "-w", ws, "--json"))
    assert out["inserted"] == 1 and out["rejected"] == 1
    assert "not a domain" in Path(out["rejects_file"]).read_text()
    again = json.loads(run("import", "companies", str(f), "-w", ws, "--json"))
    assert again["inserted"] == 0 and again["updated"] == 0


def test_score_prints_companies_for_the_account_model(ws: str) -> None:
    out = run("score", "--as-of", "2025-06-30", "-w", ws, "--model", "accounts")
    assert "2 companies scored" in out
    runs = json.loads(run("score", "--company", "acme", "--as-of", "2025-06-30", "-w", ws, "--json"))
    assert [r["model"] for r in runs if r["level"] == "account"] == ["accounts"]


@pytest.mark.parametrize(("args", "says"), [
    (["--company", "acne"], "no company with id `acne`; did you mean `acme`?"),
    (["--company", "zzzz-nothing"], "no company with id `zzzz-nothing` (`leadscore top --level account` lists"),
    (["--company", "acme", "--model", "b2b"], "`b2b` is a contact model: a company is scored by account models "
                                              "(accounts)"),
])
def test_score_company_refuses_an_unknown_company_or_a_contact_model(ws: str, args: list[str], says: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "leadscore", "score", *args, "--as-of", "2025-06-30", "-w", ws],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr


def test_deliveries_say_which_company_an_account_delivery_is_for(tmp_path: Path) -> None:
    w = str(build(tmp_path / "ws").root)
    run("score", "--as-of", "2025-06-20", "-w", w)  # baseline: acme warm
    run("score", "--as-of", "2025-06-30", "-w", w)  # acme becomes sales_ready: its webhook is queued
    [delivery] = json.loads(run("deliveries", "-w", w, "--json"))
    assert (delivery["company_id"], delivery["contact_id"]) == ("acme", None)
    result = runner.invoke(app, ["deliveries", "-w", w], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "contact / company" in result.output and "company acme" in result.output


def test_top_explain_and_export_at_the_account_level(ws: str, tmp_path: Path) -> None:
    top = json.loads(run("top", "--level", "account", "-w", ws, "--json"))
    assert [t["company_id"] for t in top] == ["acme", "globex"] and top[0]["contacts"] == 4  # today's members
    assert [t["company_id"] for t in json.loads(run("top", "--level", "account", "--owner", "bob", "-w", ws,
                                                    "--json"))] == ["globex"]
    explained = json.loads(run("explain", "acme", "-w", ws, "--json"))  # a company id: explained as one
    assert explained["company_id"] == "acme" and explained["total"] == pytest.approx(top[0]["score"])
    text = run("explain", "acme", "-w", ws)
    assert "pricing by two people" in text and "dana" in text
    contact = json.loads(run("explain", "dana", "-w", ws, "--json", "--model", "b2b"))
    assert contact["company"]["company_id"] == "acme"
    out = tmp_path / "accounts.csv"
    run("export", "scores", "--level", "account", "--out", str(out), "-w", ws)
    rows = list(csv.DictReader(out.open()))
    assert [r["company_id"] for r in rows] == ["acme", "globex"]
    assert {"group_fit", "group_people", "group_engagement"} <= set(rows[0])
    assert float(rows[0]["score"]) == pytest.approx(top[0]["score"])


def test_compile_an_account_model_runs_as_scored(ws: str) -> None:
    model = str(Path(ws) / "models" / "accounts.yml")
    for dialect in ("duckdb", "spark", "postgres"):
        assert "company_id" in run("compile", model, "--dialect", dialect, "--as-of", "2025-06-30", "-w", ws)
    sql = run("compile", model, "--as-of", "2025-06-30", "--company", "acme", "-w", ws).split("\n", 1)[1]
    con = duckdb.connect(str(Path(ws) / "leadscore.duckdb"), read_only=True)
    try:
        got = con.execute(sql.rstrip().rstrip(";")).fetchall()
        stored = con.execute("SELECT score FROM account_scores WHERE company_id = 'acme'").fetchone()
    finally:
        con.close()
    assert len(got) == 1 and got[0][0] == "acme" and stored is not None and got[0][1] == pytest.approx(stored[0])
    run("compile", str(Path(ws) / "models" / "b2b.yml"), "--company", "acme", "-w", ws, ok=False)
