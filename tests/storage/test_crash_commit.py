"""SIGKILL *during* a COMMIT and during a checkpoint: the store is the one before or the one after.

``faults.fault_point`` marks the moment just before ``COMMIT`` (``store.commit``) or before the
closing checkpoint (``store.close``) without pausing; the test kills the real ``leadscore import``
process a few to a few hundred milliseconds later, while DuckDB writes its WAL or checkpoints it
into the file. The test first measures how long that COMMIT takes here (an update of 600,000
contacts: ~0.25 s, most of it the automatic checkpoint after the WAL is written), then kills at
delays inside it. Every reopened store must hold the old rows or the new rows, never a mix, with
the import's record only beside its rows, and take the next import.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from leadscore.storage.store import Store
from leadscore.workspace import init_workspace

ROWS = 600_000


def _csv(path: Path, title: str, rows: int = ROWS) -> Path:
    duckdb.sql(f"COPY (SELECT 'c' || i AS contact_id, 'u' || i || '@x.com' AS email, '{title} ' || (i % 50) "
               f"AS job_title, 'n ' || md5(i::varchar) AS notes FROM range({rows}) t(i)) TO '{path}' (HEADER)")
    return path


def kill_after(args: list[str], point: str, delay: float, marker: Path, *, pause: bool = False) -> bool:
    """Run ``args``; once it reaches ``point``, wait ``delay`` s and SIGKILL it. False: it ended first."""
    marker.unlink(missing_ok=True)
    env = {**os.environ, ("LEADSCORE_FAULT_PAUSE" if pause else "LEADSCORE_FAULT_MARK"): point,
           "LEADSCORE_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"{args} ended (status {proc.returncode}) without reaching {point}")
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is not None:
            return False
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _titles(db: Path) -> tuple[int, int, int]:
    with Store.open(db, read_only=True) as store:
        row = store.con.execute("SELECT count(*), count(*) FILTER (job_title LIKE 'New%'), "
                                "(SELECT count(*) FROM imports) FROM contacts").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("crash-commit"))
    ws = init_workspace(root / "ws")
    subprocess.run([sys.executable, "-m", "leadscore", "import", "contacts", str(_csv(root / "old.csv", "Old")),
                    "-w", str(ws.root)], check=True, capture_output=True)
    _csv(root / "new.csv", "New")
    return ws.root


def _commit_seconds(before: Path, tmp_path: Path) -> float:
    """How long the update's COMMIT takes on this machine (measured on a copy, in this process)."""
    from leadscore.ingest import import_file

    shutil.copytree(before, tmp_path / "timing")
    with Store.open(tmp_path / "timing" / "leadscore.duckdb") as store:
        con, took = store.con, []

        class Timed:
            def __getattr__(self, name: str) -> object:
                return getattr(con, name)

            def execute(self, sql: str, *args: object) -> object:
                started = time.perf_counter()
                result = con.execute(sql, *args)
                if sql == "COMMIT":
                    took.append(time.perf_counter() - started)
                return result

        store.con = Timed()  # type: ignore[assignment]
        import_file(store, "contacts", before.parent / "new.csv", rejects_dir=tmp_path)
        store.con = con
    shutil.rmtree(tmp_path / "timing")
    return took[-1]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "fractions"), [
    ("store.commit", (0.0, 0.02, 0.1, 0.3, 0.6, 0.9)),  # within the COMMIT: WAL, then the checkpoint
    ("store.close", (0.0, 0.05, 0.2)),  # within the closing checkpoint
])
def test_a_kill_during_commit_or_checkpoint_leaves_old_or_new_rows(before: Path, tmp_path: Path, point: str,
                                                                    fractions: tuple[float, ...]) -> None:
    window = _commit_seconds(before, tmp_path) if point == "store.commit" else 0.05
    outcomes = []
    for n, delay in enumerate(f * window for f in fractions):
        ws = tmp_path / f"ws{n}"
        shutil.copytree(before, ws)
        killed = kill_after([sys.executable, "-m", "leadscore", "import", "contacts",
                             str(before.parent / "new.csv"), "-w", str(ws)], point, delay, tmp_path / "marker")
        total, new, imports = _titles(ws / "leadscore.duckdb")
        assert total == ROWS and new in (0, ROWS), (point, delay, total, new)
        assert imports == (2 if new else 1), (point, delay, imports)  # the import's record goes with its rows
        outcomes.append(("killed" if killed else "finished", "new" if new else "old"))
        if n < len(fractions) - 1:
            shutil.rmtree(ws)
    # the last store takes the next write
    subprocess.run([sys.executable, "-m", "leadscore", "import", "contacts", str(before.parent / "new.csv"),
                    "-w", str(ws)], check=True, capture_output=True)
    assert _titles(ws / "leadscore.duckdb")[1] == ROWS
    assert sum(o == "killed" for o, _ in outcomes) >= len(fractions) - 1, outcomes  # the kills did land inside
