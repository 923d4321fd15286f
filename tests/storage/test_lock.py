"""The "store in use" error names who holds the store, and for leadscore's own long-running
commands what to do meanwhile (read from the holder's real command line)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadscore.errors import StoreError
from leadscore.storage.lock import in_use_message, lock_holder
from leadscore.storage.store import Store

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """Another process holding a store, started as `... leadscore worker` (its argv says so)."""
    db = tmp_path / "held.duckdb"
    Store.open(db).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), "leadscore", "worker"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield db, proc
    proc.kill()
    proc.wait()


def test_a_leadscore_worker_is_named_with_what_to_do(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    db, proc = holder
    with pytest.raises(StoreError) as caught:
        Store.open(db)
    message = str(caught.value)
    assert f"`leadscore worker` (PID {proc.pid}) holds it" in message
    assert "try again in a moment" in message
    with pytest.raises(StoreError, match=f"PID {proc.pid}"):  # reading only is refused the same way
        Store.open(db, read_only=True)


def test_other_holders_and_unknown_messages() -> None:
    mine = in_use_message("/x.duckdb", f'Conflicting lock is held in /usr/bin/python3 (PID {os.getpid()}).')
    assert f"in use by another process (PID {os.getpid()}: " in mine and sys.executable.split("/")[-1][:6] in mine
    assert lock_holder("Could not set lock on file") is None
    plain = in_use_message("/x.duckdb", "Could not set lock on file")
    assert plain.startswith("the store /x.duckdb is in use by another process; wait")
