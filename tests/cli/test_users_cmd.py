"""``leadscore users``: create prints only a generated password (or reads one from stdin), list,
disable and reset-password, each through one library call."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.users import check_login
from leadscore.workspace import Workspace

runner = CliRunner()


def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.stdout


def test_create_list_disable_reset(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    out = run("users", "create", "alice", "--role", "rep", "--owner-value", "Alice Martin", "-w", w)
    password = out.strip()
    assert out == password + "\n" and len(password) >= 16  # only the password: a script can capture it
    assert run("users", "create", "bob", "--role", "admin", "--manager", "--password-stdin", "-w", w,
               stdin="bob-password-1\n") == ""
    listed = json.loads(run("users", "list", "--json", "-w", w))
    assert [(u["username"], u["role"], u["owner_value"], u["active"]) for u in listed] == [
        ("alice", "rep", "Alice Martin", True), ("bob", "admin", None, True)]
    assert password not in json.dumps(listed)
    with small_ws.open_store() as store:
        assert check_login(store, "alice", password) is not None
        assert check_login(store, "bob", "bob-password-1") is not None
    new = run("users", "reset-password", "alice", "-w", w).strip()
    assert "disabled alice" in run("users", "disable", "alice", "-w", w)
    with small_ws.open_store() as store:
        assert check_login(store, "alice", new) is None  # disabled
    assert "alice" in run("users", "list", "-w", w)


def test_errors_are_one_clear_message(small_ws: Workspace) -> None:
    w = str(small_ws.root)
    result = runner.invoke(app, ["users", "create", "x", "--role", "boss", "-w", w])
    assert result.exit_code != 0
    for args in (["users", "disable", "ghost", "-w", w], ["users", "reset-password", "ghost", "-w", w]):
        result = runner.invoke(app, args)
        assert result.exit_code != 0 and "no user `ghost`" in str(result.exception)
    result = runner.invoke(app, ["users", "create", "c", "--role", "rep", "--password-stdin", "-w", w], input="short\n")
    assert "too short" in str(result.exception)
    assert "Example" in run("users", "create", "--help")
