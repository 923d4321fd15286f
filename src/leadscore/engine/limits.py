"""Limits: what the engine can run (checked when a model is validated) and how long read-only work
a request starts (``explain``, ``preview``) may take.

``engine_issues`` asks DuckDB to plan the model's queries, in the shapes production runs (the
parameterised real-time query and the one-contact query with per-rule detail, which holds every
expression of the batch query), so a model that passes ``validate`` also runs: a limit of the
engine (DuckDB's expression depth, say) is refused at ``validate`` with DuckDB's own message,
never discovered by the first score run after ``publish``.

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
from datetime import datetime
from types import TracebackType
from typing import Any

import duckdb

from leadscore.errors import ModelError, ModelIssue, TimeLimitError
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import LoadedModel
from leadscore.storage.store import Store, used_params

_EPOCH = datetime(1970, 1, 1)


def engine_issues(store: Store, loaded: LoadedModel) -> list[ModelIssue]:
    """Errors for the query shapes of ``loaded`` that DuckDB refuses to plan on ``store`` (none: it runs).

    Call it after ``validate_against_store`` found no error (the compiler assumes a valid model).
    """
    from leadscore.compiler import compile_model  # sqlglot: not on `leadscore validate`'s usual path

    contacts, events = (dict(c) for c in store.scoring_columns())
    shapes: list[tuple[str, bool, bool, str | None]] = [  # what, params, detail, contact_id
        ("the real-time query (one contact, parameters)", True, False, None),
        ("the explain query (per-rule detail)", False, True, "")]
    for what, params, detail, contact_id in shapes:
        if isinstance(loaded.model, AccountModel):
            what = what.replace("one contact", "one company")
            query = _account_query(store, loaded.model, params, detail, contact_id, contacts, events)
        else:
            query = compile_model(loaded.model, as_of=_EPOCH, dialect="duckdb", contact_columns=contacts,
                                  event_columns=events, params=params, detail=detail, contact_id=contact_id)
        sql = query.sql(dialect="duckdb")
        try:
            store.con.execute("EXPLAIN " + sql, used_params(sql, {"as_of": _EPOCH, "as_of_us": 0, "contact_ids": [],
                                                                   "company_ids": []}) or None).fetchall()
        except duckdb.Error as exc:
            return [ModelIssue(
                loaded.file, "", f"DuckDB cannot run {what} of this model: {str(exc).strip()}", line=1,
                hint="split the largest group, `any:` or `all:` into smaller ones; docs/model-reference.md "
                     "\"Limits\" says what one model may hold")]
    return []


def _account_query(store: Store, model: AccountModel, params: bool, detail: bool, company_id: str | None,
                   contacts: dict[str, str], events: dict[str, str]) -> Any:
    """An account model's query in one of the shapes production runs, with its published contact models."""
    from leadscore.compiler.accounts import compile_account_model
    from leadscore.engine.account_sql import contact_models_for

    contact_models, _ = contact_models_for(store, model)
    return compile_account_model(model, as_of=_EPOCH, contact_models=contact_models, params=params, detail=detail,
                                 company_id=company_id, match_by_domain=store.match_by_domain,
                                 company_columns=store.columns("companies"), contact_columns=contacts,
                                 event_columns=events)


#: Below these a model is far from any limit of the engine (sums are added in runs of 100, the
#: deepest nesting the model reader takes is 250 levels, DuckDB's expression depth is 1,000), and
#: ``leadscore validate`` does not pay for compiling it (nor for importing sqlglot).
LARGE_RULES = 100
LARGE_TEXT = 50_000


def is_large(loaded: LoadedModel) -> bool:
    """Whether ``loaded`` is big enough for the engine's limits to be worth checking."""
    return len(loaded.model.rules()) > LARGE_RULES or len(loaded.text) > LARGE_TEXT


def check_runnable(store: Store, loaded: LoadedModel, *, always: bool = False) -> None:
    """Raise ``ModelError`` when DuckDB cannot run ``loaded`` (see ``engine_issues``); a model that
    is not ``is_large`` is taken as runnable unless ``always`` (publish checks every model)."""
    if not always and not is_large(loaded):
        return
    issues = engine_issues(store, loaded)
    if issues:
        raise ModelError(issues)


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
