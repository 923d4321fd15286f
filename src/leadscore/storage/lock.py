"""Who holds a store that another process has open: the words of a "store in use" error.

DuckDB lets one process open a database file for writing (or several for reading only), so while
``leadscore serve`` or ``leadscore worker`` runs, every other command is refused. Its own message
names only a PID and an interpreter; the user needs to know which leadscore command that is and
what to do meanwhile (the server's HTTP API answers what the CLI would).
"""

from __future__ import annotations

import re
from pathlib import Path

_PID = re.compile(r"\(PID (\d+)\)")

#: the leadscore command holding the store → what to do while it runs
_WHILE_RUNNING = {
    "serve": "while it runs, its HTTP API does what the CLI would (explain, scores, contacts, "
             "keys, rescore: see docs/api.md), or stop it first",
    "worker": "it holds the store only while deliveries are due, so try again in a moment (or "
              "run `leadscore worker --until-idle` after your command instead)",
}


def lock_holder(message: str) -> int | None:
    """The PID DuckDB names in a lock error, if it names one."""
    match = _PID.search(message)
    return int(match.group(1)) if match else None


def command_of(pid: int) -> list[str]:
    """The command line of a running process ([] when it cannot be read, e.g. not on Linux)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def in_use_message(target: str, duckdb_message: str) -> str:
    """A "store in use" error naming the process, and for leadscore's long-running commands, what to
    do while they run."""
    pid = lock_holder(duckdb_message)
    base = f"the store {target} is in use by another process"
    if pid is None:
        return (f"{base}; wait for it to finish or stop it (DuckDB allows one writer at a time)")
    argv = command_of(pid)
    command = next((arg for arg in argv[1:] if arg in _WHILE_RUNNING), None)
    if command is not None and any("leadscore" in arg for arg in argv):
        return f"{base}: `leadscore {command}` (PID {pid}) holds it; {_WHILE_RUNNING[command]}"
    # the program only: its arguments may hold a password or a token, and this lands in logs
    shown = Path(argv[0]).name if argv else "a program this user cannot see"
    return (f"{base} (PID {pid}: {shown}); wait for it to finish or stop it "
            "(DuckDB allows one writer at a time)")
