"""Time limits on read-only work a request can start: ``explain`` and ``preview``.

A draft model sent to ``POST /v1/models/preview`` decides how much work the server does, so that
work gets a deadline. The SQL side is stopped by DuckDB itself (``interrupt()`` on the request's
own cursor, from a timer thread: the query ends with an ``InterruptException`` within
milliseconds); the Python side (the reference scorer listing matched events) is linear in the
contact's events, since ``matches`` runs on RE2, and checks the deadline between steps.

>>> with Deadline(store, 10, "the preview") as deadline:   # doctest: +SKIP
...     rows = store.con.execute(sql).fetchall()
...     deadline.check()
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import duckdb

from leadscore.errors import TimeLimitError
from leadscore.storage.store import Store


class Deadline:
    """Stops the store's queries after ``seconds`` and raises ``TimeLimitError``; None: no limit."""

    def __init__(self, store: Store | None, seconds: float | None, what: str) -> None:
        self.store, self.seconds, self.what = store, seconds, what
        self._timer: threading.Timer | None = None
        self._ends = float("inf")
        self._lock = threading.Lock()
        self._done = False

    @classmethod
    def none(cls) -> Deadline:
        """No limit: ``check()`` never raises (the CLI and the library, where Ctrl-C stops)."""
        return cls(None, None, "")

    def __enter__(self) -> Deadline:
        if self.seconds is not None and self.store is not None:
            self._ends = time.monotonic() + self.seconds
            self._arm(self.seconds)
        return self

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._interrupt)
        self._timer.daemon = True
        self._timer.start()

    def _interrupt(self) -> None:
        # an interrupt reaches only the query running at that instant: keep interrupting until the
        # block is left, so that a query started just after the deadline is stopped too
        assert self.store is not None
        with self._lock:  # never after __exit__: the connection may be running other work by then
            if not self._done:
                self.store.con.interrupt()
                self._arm(0.02)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()
        if isinstance(exc, duckdb.InterruptException) and self.seconds is not None:
            raise self._error() from exc

    def check(self) -> None:
        """Raise ``TimeLimitError`` when the time is up (between Python steps)."""
        if time.monotonic() > self._ends:
            raise self._error()

    def _error(self) -> TimeLimitError:
        return TimeLimitError(
            f"{self.what} took longer than {self.seconds:g} s and was stopped; nothing was written. "
            "Try fewer contacts, a model with fewer or simpler rules, or raise "
            "`server.time_limit_seconds` in leadscore.yml")
