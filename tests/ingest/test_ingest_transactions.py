"""One file, one transaction: strict mode, failures and SIGKILL leave the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.bench.imports import generate_events
from leadscore.errors import ImportError_
from leadscore.ingest import ImportResult, import_file
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]

BAD = "email,company_size,score\na@x.com,1,1\nb@x.com,big,2\nc@x.com,3,3\nd@x.com,4,5,6\n"


def snapshot(store: Store) -> tuple[object, ...]:
    return (store.count("contacts"), store.count("events"), store.count("deals"),
            rows(store, "SELECT count(*) FROM imports")[0][0], tuple(store.column_types("contacts")),
            tuple(store.column_types("events")))


def test_strict_mode_names_the_first_bad_line_and_imports_nothing(run: Run, write: Write,
                                                                  store: Store, tmp_path: Path) -> None:
    before = snapshot(store)
    with pytest.raises(ImportError_, match=r"bad\.csv: line 3: company_size: big is not a whole "
                                           r"number \(strict mode: nothing was imported; 2 bad"):
        run("contacts", write("bad.csv", BAD), strict=True)
    assert snapshot(store) == before  # no rows, no `score` column, no imports record
    assert not (tmp_path / "rejects").exists()
    assert run("contacts", write("bad.csv", BAD)).inserted == 2  # and the store still works


def test_strict_mode_reports_malformed_rows_by_line(run: Run, write: Write) -> None:
    with pytest.raises(ImportError_, match="line 3: malformed row: too many fields"):
        run("contacts", write("m.csv", "email,x\na@x.com,1\nb@x.com,1,2\n"), strict=True)


def test_each_import_is_recorded(run: Run, write: Write, store: Store) -> None:
    result = run("contacts", write("bad.csv", BAD))
    assert rows(store, "SELECT import_id, kind, file, inserted, updated, duplicates, rejected FROM imports") == [
        (result.import_id, "contacts", str(write("bad.csv", BAD).resolve()), 2, 0, 0, 2)]
    assert result.rejects_file is not None and result.rejects_file.name.startswith("contacts-bad-")
    assert len(read_rejects(result.rejects_file)) == 2


def test_rejects_dir_defaults_next_to_the_store(store: Store, write: Write, tmp_path: Path) -> None:
    result = import_file(store, "contacts", write("bad.csv", BAD))
    assert result.rejects_file is not None and result.rejects_file.parent == tmp_path / "rejects"


def test_progress_is_monotonic_and_finishes(run: Run, tmp_path: Path) -> None:
    path = generate_events(tmp_path / "ev.csv", 200_000)
    seen: list[tuple[int, int]] = []
    run("events", path, progress=lambda done, total: seen.append((done, total)))
    total = path.stat().st_size
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert len(seen) > 4


def test_a_raising_progress_callback_cancels_and_rolls_back(run: Run, write: Write, store: Store,
                                                            tmp_path: Path) -> None:
    run("contacts", write("c.csv", "email\na@x.com\n"))
    before = snapshot(store)
    path = generate_events(tmp_path / "ev.csv", 300_000)

    def cancel(done: int, total: int) -> None:
        if done > 0.7 * total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run("events", path, progress=cancel)
    assert snapshot(store) == before
    assert run("events", path).inserted == 300_000


CHILD = """
import sys, threading, time
from pathlib import Path
from leadscore.storage.store import Store
from leadscore.ingest import import_file

db, source, marker, threshold, pause = sys.argv[1:6]
state = {"marked": False}

def progress(done, total):
    # pausing: only the importing thread's own report at a step start, which is then held;
    # not pausing: only the polling thread's reports, i.e. while a statement runs
    in_main = threading.current_thread() is threading.main_thread()
    if state["marked"] or done < float(threshold) * total or done >= total:
        return
    if in_main != (float(pause) > 0):
        return
    state["marked"] = True
    Path(marker).write_text(f"{done}/{total}")
    time.sleep(float(pause))

with Store.open(db) as store:
    import_file(store, "events", source, progress=progress, rejects_dir=Path(db).parent / "rejects")
print("DONE", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("threshold", "pause"), [
    (0.6, 60.0),   # paused at the start of the write step, inside the transaction
    (0.62, 0.0),   # killed while the INSERT is running (reported by the polling thread)
], ids=["inside-transaction", "while-writing"])
def test_sigkill_mid_import_leaves_the_store_as_before(tmp_path: Path, threshold: float,
                                                       pause: float) -> None:
    db = tmp_path / "leadscore.duckdb"
    small = tmp_path / "small.csv"
    small.write_text("contact_id,type,occurred_at\n1,page_view,2024-01-01\n2,email_open,2024-01-02\n")
    with Store.open(db) as store:
        import_file(store, "contacts", _contacts(tmp_path), rejects_dir=tmp_path / "rejects")
        import_file(store, "events", small, rejects_dir=tmp_path / "rejects")
        before = snapshot(store)
    big = generate_events(tmp_path / "big.csv", 2_000_000)
    marker = tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(db), str(big), str(marker),
                              str(threshold), str(pause)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=30)
    assert marker.exists(), err.decode()
    assert child.returncode == -signal.SIGKILL and b"DONE" not in out, "the import finished first"

    with Store.open(db) as store:
        assert snapshot(store) == before
        after = import_file(store, "events", small, rejects_dir=tmp_path / "rejects")
        assert (after.inserted, after.duplicates) == (0, 2)
        more = import_file(store, "events", generate_events(tmp_path / "more.parquet", 50_000),
                           rejects_dir=tmp_path / "rejects")
        assert more.inserted == 50_000
        assert store.count("events") == before[1] + 50_000


def _contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text("contact_id,email\n1,a@x.com\n2,b@x.com\n")
    return path


def test_an_import_inside_a_callers_transaction_joins_it(run: Run, write: Write, store: Store) -> None:
    path = write("c.csv", "email,company_size\na@x.com,1\nb@x.com,2\nc@x.com,many\n")
    with pytest.raises(RuntimeError), store.transaction():
        result = run("contacts", path)
        assert (result.inserted, result.rejected) == (2, 1)
        assert read_rejects(result.rejects_file)[0]["line"] == "4"  # ordinals still right
        raise RuntimeError("caller changes its mind")
    assert store.count("contacts") == 0
