"""What publishing must not break (``engine.publish_checks``), from the CLI, the library and the API
on real stores: a model name keeps its level, and a contact model version that drops a tier an
account model reads is refused naming that account model (``validate`` says so too)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.accounts.helpers import ACCOUNT_MODEL, CONTACT_MODEL, build, served

import leadscore
from leadscore.errors import ModelError
from leadscore.workspace import Workspace

#: the account model's workflow fires only for companies with a contact in b2b's tier `sql`
READS_SQL = ACCOUNT_MODEL.replace("    on: {enters_tier: sales_ready}\n",
                                  "    on: {enters_tier: sales_ready}\n    if: {contacts: {model: b2b, tier: sql}}\n")
WITHOUT_SQL = CONTACT_MODEL.replace(", sql: 30", "")
AS_ACCOUNT = "name: b2b\nlevel: account\ntiers: {cold: 0, hot: 20}\ngroups:\n  fit:\n    rules:\n" \
             "      - {name: big, when: {property: employees, gte: 100}, points: 20}\n"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = build(tmp_path / "ws")
    (ws.models_dir / "accounts.yml").write_text(READS_SQL)
    leadscore.publish(ws.models_dir / "accounts.yml", workspace=ws)
    return ws


def _cli(command: str, file: Path, ws: Workspace) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leadscore", command, str(file), "-w", str(ws.root)],
                          capture_output=True, text=True, timeout=120)


def _versions(ws: Workspace, name: str) -> int:
    with leadscore.open_store(ws, read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM model_versions WHERE model = ?", [name]).fetchone()
    return int(row[0]) if row else 0


def test_a_contact_model_dropping_a_tier_an_account_model_reads_is_refused_naming_it(ws: Workspace) -> None:
    (ws.models_dir / "b2b.yml").write_text(WITHOUT_SQL)
    for command in ("validate", "publish"):
        proc = _cli(command, ws.models_dir / "b2b.yml", ws)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        text = " ".join(proc.stderr.split())
        assert "b2b.yml:2" in text  # the line of `tiers:`
        assert "account model `accounts` (v2) reads contact model `b2b`" in text
        assert "workflows.0.if.contacts.tier" in text and "`sql`" in text
    assert _versions(ws, "b2b") == 1
    # once the account model no longer reads the tier, the contact model publishes
    (ws.models_dir / "accounts.yml").write_text(ACCOUNT_MODEL)
    leadscore.publish(ws.models_dir / "accounts.yml", workspace=ws)
    assert leadscore.publish(ws.models_dir / "b2b.yml", workspace=ws).version == 2


def test_a_contact_model_keeping_what_account_models_read_publishes(ws: Workspace) -> None:
    (ws.models_dir / "b2b.yml").write_text(CONTACT_MODEL.replace("points: 20}", "points: 25}"))
    assert leadscore.publish(ws.models_dir / "b2b.yml", workspace=ws).version == 2


@pytest.mark.parametrize(("file", "text", "was"), [
    ("b2b.yml", AS_ACCOUNT, "contact"),
    ("accounts.yml", CONTACT_MODEL.replace("name: b2b", "name: accounts"), "account"),
])
def test_a_model_name_keeps_its_level(ws: Workspace, file: str, text: str, was: str) -> None:
    name = "b2b" if file == "b2b.yml" else "accounts"
    before = _versions(ws, name)
    (ws.models_dir / file).write_text(text)
    with pytest.raises(ModelError, match=f"`{name}` is published as a {was} model"):
        leadscore.publish(ws.models_dir / file, workspace=ws)
    proc = _cli("publish", ws.models_dir / file, ws)
    assert proc.returncode != 0 and "a model name keeps its level" in " ".join(proc.stderr.split())
    assert _versions(ws, name) == before


@pytest.fixture
def admin(ws: Workspace) -> Iterator[httpx.Client]:
    with served(ws, "admin") as (c, _app):
        yield c


def test_the_api_refuses_both_with_a_422_naming_the_problem(admin: httpx.Client) -> None:
    for text, says in ((WITHOUT_SQL, "account model `accounts` (v2) reads contact model `b2b`"),
                       (AS_ACCOUNT, "`b2b` is published as a contact model")):
        check = admin.post("/v1/models/validate", json={"text": text, "file": "models/b2b.yml"}).json()
        assert check["valid"] is False and any(says in i["message"] for i in check["issues"])
        r = admin.post("/v1/models", json={"text": text, "file": "models/b2b.yml"})
        assert r.status_code == 422, r.text
        assert says in r.text
    assert [v["version"] for v in admin.get("/v1/models/b2b").json()["versions"]] == [1]
