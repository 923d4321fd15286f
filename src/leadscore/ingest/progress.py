"""Progress of an import, for the CLI's progress bar, without slowing the import down.

The work happens in a handful of long DuckDB statements, so there is no row loop to count in.
Instead a helper thread polls ``query_progress()`` (the percentage DuckDB itself tracks for the
running statement) and maps it into the share of the import the current step stands for. The
callback is therefore called from that helper thread, about ten times a second, with
``(done, total)`` in bytes of the input file, never going backwards, and once more with
``done == total`` at the end.

If the callback raises, the running statement is interrupted and the import fails with that
exception (so a callback can cancel an import; the transaction is rolled back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

ProgressCallback = Callable[[int, int], None]


class ProgressTracker:
    """Polls DuckDB and reports weighted progress; a no-op without a callback."""

    def __init__(self, con: duckdb.DuckDBPyConnection, callback: ProgressCallback | None,
                 total: int, interval: float = 0.1):
        self.con = con
        self.callback = callback
        self.total = max(int(total), 1)
        self.interval = interval
        self.error: BaseException | None = None
        self._window = (0.0, 0.0)
        self._done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: dict[str, str] = {}
        self._owner = threading.get_ident()

    def __enter__(self) -> ProgressTracker:
        if self.callback is None:
            return self
        rows = self.con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
        self._saved["enable_progress_bar"] = str(rows[0][0]).lower() if rows else "false"
        self.con.execute("SET enable_progress_bar = true")  # query_progress() needs it
        self._report(0)
        self._thread = threading.Thread(target=self._poll, name="leadscore-import-progress",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for name, value in self._saved.items():
            self.con.execute(f"SET {name} = {value}")
        if exc is None and self.callback is not None and self.error is None:
            self._report(self.total)

    @contextmanager
    def step(self, start: float, end: float) -> Iterator[None]:
        """Statements run inside this block cover the fraction ``start``..``end`` of the import."""
        with self._lock:
            self._window = (start, end)
        self._report(int(start * self.total))
        yield
        self.check()
        self._report(int(end * self.total))

    def check(self) -> None:
        """Re-raise a callback's exception in the importing thread."""
        if self.error is not None:
            raise self.error

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                percent = float(self.con.query_progress())
            except duckdb.Error:
                continue
            if percent < 0:
                continue
            with self._lock:
                start, end = self._window
            self._report(int((start + (end - start) * min(percent, 100.0) / 100.0) * self.total))
            if self.error is not None:
                return

    def _report(self, done: int) -> None:
        if self.callback is None or self.error is not None:
            return
        with self._lock:
            if done < self._done:
                return
            self._done = done
        try:
            self.callback(min(done, self.total), self.total)
        except BaseException as exc:  # handed over to the importing thread
            self.error = exc
            if threading.get_ident() == self._owner:
                raise
            self.con.interrupt()
