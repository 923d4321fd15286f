"""The CLI end to end: real workspace, real store, commands as a user types them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.workspace import Workspace

runner = CliRunner()


def run(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_every_command_has_help_with_an_example() -> None:
    names = [c.name for c in app.registered_commands] + ["bench"]  # bench: a group of benchmarks
    assert {"init", "demo", "import", "validate", "schema", "compile", "publish", "models", "score",
            "explain", "preview", "top", "export", "bench"} <= set(names)
    assert "bench" in [g.name for g in app.registered_groups]
    for name in names:
        out = run(name, "--help")
        assert "Example" in out, name


def test_score_explain_top_export_json(small_ws: Workspace, tmp_path: Path) -> None:
    w = str(small_ws.root)
    run("publish", str(small_ws.models_dir / "small.yml"), "-w", w)
    runs = json.loads(run("score", "--as-of", "2025-06-01", "-w", w, "--json"))
    assert runs[0]["tier_counts"] == {"cold": 2, "nurture": 1, "sql": 1}
    explained = json.loads(run("explain", "c1", "-w", w, "--json"))
    assert abs(sum(g["points"] for g in explained["groups"]) - explained["total"]) < 1e-9
    assert "demo" in run("explain", "c1", "-w", w)
    top = json.loads(run("top", "-w", w, "--json", "-n", "1"))
    assert top[0]["contact_id"] == "c1"
    run("export", "scores", "--out", str(tmp_path / "out.csv"), "-w", w)
    assert (tmp_path / "out.csv").read_text().startswith("contact_id,model,model_version,score,tier")


def test_compile_prints_sql_for_each_dialect(small_ws: Workspace) -> None:
    for dialect in ("duckdb", "spark", "postgres"):
        out = run("compile", str(small_ws.models_dir / "small.yml"), "--dialect", dialect,
                  "--as-of", "2025-06-01")
        assert "SELECT" in out.upper() and dialect in out.splitlines()[0]


def test_compile_knows_the_workspaces_custom_columns(small_ws: Workspace, tmp_path: Path) -> None:
    with small_ws.open_store() as store:
        store.con.execute('ALTER TABLE contacts ADD COLUMN "score_hint" DOUBLE')
    model = small_ws.models_dir / "custom.yml"
    model.write_text("name: custom\ngroups:\n  fit:\n    rules:\n"
                     "      - {name: hint, when: {property: score_hint, gt: 3}, points: 5}\n")
    out = run("compile", str(model), "--workspace", str(small_ws.root))
    assert '"score_hint" > 3' in out
    elsewhere = runner.invoke(app, ["compile", str(model), "--workspace", str(tmp_path / "none")])
    assert f"{model}:5" in str(elsewhere.exception)  # no workspace there: the file and the line


def test_bad_model_is_a_clear_error_not_a_traceback(small_ws: Workspace) -> None:
    bad = small_ws.models_dir / "bad.yml"
    bad.write_text("name: bad\ngroups:\n  fit:\n    rules:\n"
                   "      - {name: a, when: {property: job_tilte, equals: CEO}, points: 3}\n")
    proc = subprocess.run([sys.executable, "-m", "leadscore", "validate", str(bad),
                           "-w", str(small_ws.root)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bad.yml:5" in proc.stderr and "job_title" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigkill_during_score_leaves_store_as_before(small_ws: Workspace, tmp_path: Path) -> None:
    w = str(small_ws.root)
    run("publish", str(small_ws.models_dir / "small.yml"), "-w", w)
    run("score", "--as-of", "2025-06-01", "-w", w)
    store_file = small_ws.store_path

    def snapshot() -> list[tuple]:
        import duckdb

        with duckdb.connect(str(store_file), read_only=True) as con:
            return [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                    for t in ("scores", "score_history", "tier_crossings", "score_runs")]

    before = snapshot()
    marker = tmp_path / "paused"
    env = dict(os.environ, LEADSCORE_FAULT_PAUSE="score.before_commit", LEADSCORE_FAULT_MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-07-02",
                             "-w", w], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.time() < deadline, "the score run never reached its commit point"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert snapshot() == before
    out = run("score", "--as-of", "2025-07-02", "-w", w, "--json")
    assert json.loads(out)[0]["contacts"] == 5


@pytest.mark.slow
def test_demo_builds_scores_and_explains(tmp_path: Path) -> None:
    out = json.loads(run("demo", str(tmp_path / "demo"), "--contacts", "3000", "--events", "60000", "--json"))
    assert out["contacts"] == 3000 and out["events"] == 60000
    assert set(out["tiers"]) == {"cold", "nurture", "sql"} and all(out["tiers"].values())
    assert len(out["top"]) == 10 and all(t["reasons"] for t in out["top"])
    assert out["companies"] == 1000 and sum(out["account_tiers"].values()) == 1000
    best = out["top_accounts"][0]
    assert best["contacts"] >= 2 and best["score"] == max(a["score"] for a in out["top_accounts"])
    explained = json.loads(run("explain", best["company_id"], "-w", str(tmp_path / "demo"), "--json"))
    assert explained["total"] == pytest.approx(best["score"])
    # the dashboard: the command, the URL, and users that can log in
    board = out["dashboard"]
    assert board["command"].startswith("leadscore serve -w ") and board["url"] == "http://127.0.0.1:8000/"
    from leadscore.users import check_login
    from leadscore.workspace import Workspace

    with Workspace.load(tmp_path / "demo").open_store() as store:
        for user in board["users"]:
            assert check_login(store, user["username"], user["password"]) is not None
        assert store.con.execute("SELECT count(DISTINCT as_of) FROM score_history").fetchone()[0] == 9  # weekly
    text = run("demo", str(tmp_path / "demo"), "--contacts", "500", "--events", "5000")
    assert "Open the dashboard" in text and "leadscore serve" in text and "admin / " in text
    # rebuilding in place is allowed for a demo workspace
    run("demo", str(tmp_path / "demo"), "--contacts", "500", "--events", "5000", "--json")


def test_a_lone_surrogate_in_a_key_is_a_clear_error_in_validate_and_publish(small_ws: Workspace) -> None:
    """In a real process with a real stdout: the bug was a traceback printing the bad key."""
    bad = small_ws.models_dir / "bad.yml"
    bad.write_text((small_ws.models_dir / "small.yml").read_text().replace("sql: 40", '"sql\\ud800": 40'))
    for command in ("validate", "publish"):
        out = subprocess.run([sys.executable, "-m", "leadscore", command, str(bad), "-w", str(small_ws.root)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert "tiers.sql\\ud800" in out.stdout + out.stderr and "not valid Unicode" in out.stdout + out.stderr
    bad.unlink()
    run("publish", str(small_ws.models_dir / "small.yml"), "-w", str(small_ws.root))
    run("score", "-w", str(small_ws.root))


def test_an_unknown_model_or_tier_is_an_error_not_an_empty_list(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    run("publish", str(small_ws.models_dir / "small.yml"), "-w", w)
    run("score", "--as-of", "2025-06-01", "-w", w)
    for args, message in ((["top", "--model", "nosuch"], "no published model `nosuch`"),
                          (["top", "--tier", "nosuch"], "has no tier `nosuch`"),
                          (["explain", "c1", "--model", "nosuch"], "no published model `nosuch`"),
                          (["score", "--model", "nosuch"], "nosuch")):
        result = runner.invoke(app, [*args, "-w", w])
        assert result.exit_code != 0 and message in str(result.exception) + result.output, (args, result.output)
    assert "c1" in run("top", "--tier", "sql", "-w", w)


def test_a_future_as_of_is_refused_for_stored_scores_unless_allowed(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    run("publish", str(small_ws.models_dir / "small.yml"), "-w", w)
    for args in (["score"], ["score", "--contact", "c1"]):
        result = runner.invoke(app, [*args, "--as-of", "2999-01-01", "-w", w])
        assert result.exit_code != 0 and "is in the future" in str(result.exception), result.output
    with Workspace.load(small_ws.root).open_store(read_only=True) as store:
        assert store.count("scores") == 0
    run("score", "--as-of", "2999-01-01", "--allow-future", "-w", w)
    run("score", "--as-of", "now", "-w", w)
