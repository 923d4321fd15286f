"""The workflow commands as a user types them: `leadscore score` from cron fires actions, the worker
delivers them, and deliveries, tasks and lists are there to read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.workflows.helpers import MakeWs, set_props
from tests.workflows.receivers import WebhookReceiver
from typer.testing import CliRunner

from leadscore.cli.main import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def model(url: str) -> str:
    return f"""workflows:
  - name: to sales
    on: {{enters_tier: warm}}
    do:
      - webhook: {{url: "{url}"}}
      - task: {{title: "Call {{{{ contact.first_name }}}}"}}
      - add_to_list: warm-leads
"""


def test_cron_score_fires_worker_delivers_and_everything_is_listed(make_ws: MakeWs, tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        ws = make_ws(model(receiver.url), "segments:\n  saas: {when: {property: industry, equals: SaaS}}\n")
        w = str(ws.root)
        with ws.open_store() as store:
            set_props(store, "k1", company_size=500)
            set_props(store, "k2", company_size=500)
        runs = json.loads(run("score", "--as-of", "2025-06-01", "-w", w, "--json"))
        assert runs[0]["crossings"] == 2
        pending = json.loads(run("deliveries", "--status", "pending", "-w", w, "--json"))
        assert sorted(d["contact_id"] for d in pending) == ["k1", "k2"]
        assert pending[0]["target"] == receiver.url
        assert "attempted" in json.loads(run("worker", "--until-idle", "-w", w, "--json"))
        assert len(receiver.requests) == 2
    delivered = json.loads(run("deliveries", "--status", "delivered", "-w", w, "--json"))
    assert len(delivered) == 2
    attempts = json.loads(run("deliveries", "show", delivered[0]["action_id"], "-w", w, "--json"))
    assert attempts[0]["ok"] is True and attempts[0]["status_code"] == 200
    tasks = json.loads(run("tasks", "--owner", "alice", "-w", w, "--json"))
    assert [t["title"] for t in tasks] == ["Call Ann"]
    run("tasks", "done", tasks[0]["task_id"], "-w", w)
    assert json.loads(run("tasks", "--status", "open", "-w", w, "--json"))[0]["owner"] == "bert"
    lists = {r["name"]: r for r in json.loads(run("lists", "-w", w, "--json"))}
    assert lists == {"saas": {"name": "saas", "kind": "segment", "members": 2},
                     "warm-leads": {"name": "warm-leads", "kind": "static", "members": 2}}
    assert json.loads(run("lists", "show", "saas", "-w", w, "--json")) == ["k1", "k3"]
    run("lists", "export", "warm-leads", "--out", str(tmp_path / "warm.parquet"), "-w", w)
    assert (tmp_path / "warm.parquet").stat().st_size > 0


def test_help_of_every_workflow_command_has_an_example() -> None:
    for args in (["worker"], ["deliveries"], ["deliveries", "retry"], ["deliveries", "show"], ["deliveries", "purge"],
                 ["lists"], ["lists", "show"], ["lists", "export"], ["tasks"], ["tasks", "done"]):
        assert "Example" in run(*args, "--help"), args


def test_mistakes_are_one_clear_message(make_ws: MakeWs) -> None:
    ws = make_ws("")
    for args, message in ((["deliveries", "retry"], "--all-dead"),
                          (["deliveries", "--status", "lost"], "unknown delivery status"),
                          (["lists", "show", "nope"], "no list `nope`")):
        proc = subprocess.run([sys.executable, "-m", "leadscore", *args, "-w", str(ws.root)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
