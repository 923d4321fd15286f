"""``leadscore keys``: create prints only the key, list shows ids not keys, revoke stops a key."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadscore.api.keys import find_key
from leadscore.cli.main import app
from leadscore.workspace import Workspace

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def test_create_list_revoke(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    out = run("keys", "create", "--scope", "write", "--name", "segment", "-w", w)
    key = out.strip()
    assert out == key + "\n" and key.startswith("lsk_") and len(key) > 40  # only the key
    run("keys", "create", "--scope", "read", "-w", w)
    listed = json.loads(run("keys", "list", "--json", "-w", w))
    assert [k["scope"] for k in listed] == ["write", "read"]
    mine = listed[0]
    assert mine["name"] == "segment" and key.startswith(mine["key_id"]) and key not in json.dumps(listed)
    with small_ws.open_store() as store:
        assert find_key(store, key) is not None
    assert "revoked" in run("keys", "revoke", mine["key_id"], "-w", w)
    with small_ws.open_store() as store:
        assert find_key(store, key) is None
    assert "segment" in run("keys", "list", "-w", w)
    assert "Example" in run("keys", "create", "--help")


def test_bad_scope_and_unknown_key_are_clear_errors(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    result = runner.invoke(app, ["keys", "create", "--scope", "root", "-w", w])
    assert result.exit_code != 0 and "unknown scope `root`" in str(result.exception)
    result = runner.invoke(app, ["keys", "revoke", "lsk_nope", "-w", w])
    assert result.exit_code != 0 and "no API key with id `lsk_nope`" in str(result.exception)
