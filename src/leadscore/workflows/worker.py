"""The delivery worker: sends what the outbox holds, retries what failed, buries what never works.

``Worker.deliver_due`` is one round: claim the due actions (committed as ``sending``), send them
(``delivery.concurrency`` at a time), record each outcome. ``Worker.run`` repeats rounds until
told to stop; ``leadscore serve`` runs it in a thread on its own ``store.cursor()``, and
``leadscore worker`` runs ``run_standalone``, which holds the store only while there is work (DuckDB
allows one process at a time, and ``leadscore score`` from cron must get in between).

One worker per store: a worker's first round puts back actions a crashed worker left
``sending``, which would re-send those of a live one.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import duckdb
import httpx

from leadscore.engine.run import model_of
from leadscore.errors import LeadscoreError, StoreError
from leadscore.faults import fault_point
from leadscore.model.account_spec import AccountModel
from leadscore.model.spec import ScoringModel
from leadscore.model.workflow_spec import Action
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.workflows import outbox
from leadscore.workflows.outbox import Attempt, Claimed
from leadscore.workflows.retry import next_attempt_at
from leadscore.workflows.senders import Outcome, send_email, send_webhook
from leadscore.workspace import Workspace

log = logging.getLogger("leadscore.workflows")

#: A claimed action whose worker vanished is sent again this long after its batch's worst case.
LEASE_MARGIN = timedelta(seconds=60)
#: After a send finishes, wait this long for others before recording them all in one commit.
RECORD_WINDOW_SECONDS = 0.02
#: How often a worker forgets delivered actions older than ``delivery.keep_delivered_days``.
PURGE_EVERY_SECONDS = 3600.0
#: store path → monotonic time of its last purge, shared by the Worker objects of one process
#: (``leadscore worker`` makes a new one each time it opens the store).
_last_purge: dict[str, float] = {}


class Worker:
    """Delivers due webhook and e-mail actions of one store (see module docstring)."""

    def __init__(self, store: Store, ws: Workspace, *, rng: random.Random | None = None):
        self.store = store
        self.ws = ws
        self.settings = ws.settings.delivery
        self.rng = rng or random.Random()
        self._recovered = False
        self._models: dict[tuple[str, int], ScoringModel | AccountModel] = {}
        self._client = httpx.Client(follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=self.settings.concurrency,
                                        thread_name_prefix="leadscore-send")

    def close(self) -> None:
        """Finish the sends in flight and release the HTTP client (idempotent)."""
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deliver_due(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """Send every action due at ``now`` (default: the clock), up to ``limit``; returns how many
        were attempted. ``now`` lets tests walk a retry schedule without sleeping."""
        if not self._recovered:
            outbox.recover_sending(self.store.con)
            self._recovered = True
        clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
        started = clock()
        self._purge_if_due(started)
        # long enough for the whole batch to go out `concurrency` at a time, each up to its timeout
        waves = -(-limit // self.settings.concurrency)
        lease = timedelta(seconds=max(self.settings.timeout_seconds, 30) * waves) + LEASE_MARGIN
        items = outbox.claim(self.store, started, limit, lease)
        # actions are read here, on this thread: the store's connection is not for the send threads
        running = {self._pool.submit(self._send, item, self._resolve(item)): item for item in items}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            # gather what finishes in the next moment too, so one commit records several sends
            done |= wait(set(running) - done, timeout=RECORD_WINDOW_SECONDS)[0]
            fault_point("worker.after_send")  # crash tests: sent, not yet recorded
            finished = clock()
            outbox.record_attempts(self.store, [self._attempt(running.pop(f), f.result(), started, finished)
                                                for f in done])
        return len(items)

    def _purge_if_due(self, now: datetime) -> None:
        """Forget delivered actions (and their attempts) older than the setting, at most hourly.

        Without it the outbox grows by every webhook ever sent. Dead and waiting actions stay:
        they still need a person or a retry. A failure (a write conflict with the server's writer)
        is logged and tried again at the next hour.
        """
        keep = self.settings.keep_delivered_days
        last = _last_purge.get(self.store.path)
        if not keep or (last is not None and time.monotonic() - last < PURGE_EVERY_SECONDS):
            return
        _last_purge[self.store.path] = time.monotonic()
        try:
            forgotten = outbox.purge_delivered(self.store, before=now - timedelta(days=keep))
        except (duckdb.Error, OverflowError):
            log.warning("could not forget old delivered actions; trying again in an hour", exc_info=True)
            return
        if forgotten:
            log.info("forgot %d delivered actions older than %g days", forgotten, keep)

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, waiting ``poll_seconds`` whenever nothing is due.

        A round that fails (a write conflict with the server's writer, say, or anything else) is
        logged and tried again after the poll interval: what it claimed stays ``sending`` until its
        lease runs out and is then sent again, so nothing is lost by carrying on, while a worker
        that stopped would leave every later action waiting with nobody to send it.
        """
        try:
            while not stop.is_set():
                try:
                    attempted = self.deliver_due()
                except Exception:  # noqa: BLE001 - see the docstring: carrying on loses nothing
                    log.exception("delivery round failed; trying again in %.1f s", poll_seconds)
                    attempted = 0
                if attempted == 0:
                    stop.wait(poll_seconds)
        finally:
            self.close()

    # ------------------------------------------------------------------ one action

    def _resolve(self, item: Claimed) -> Action | Outcome:
        """The action as its model version declares it, or the failure to read it."""
        try:
            return self._action(item)
        except LeadscoreError as exc:  # e.g. ${HOOK_URL} not set in this process's environment
            return Outcome(False, error=f"cannot read the action from {item.model} v{item.model_version}: {exc}")

    def _send(self, item: Claimed, action: Action | Outcome) -> Outcome:
        """Send one action on a pool thread; whatever goes wrong becomes a (retryable) outcome."""
        if isinstance(action, Outcome):
            return action
        try:
            return self._send_action(item, action)
        except Exception as exc:  # noqa: BLE001 (a bad URL, a bug: record it, keep the worker alive)
            log.exception("sending %s failed", item.action_id)
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")

    def _send_action(self, item: Claimed, action: Action) -> Outcome:
        fault_point("worker.before_send")
        if action.webhook is not None:
            return send_webhook(action.webhook, item.payload, action_id=item.action_id, attempt=item.attempt,
                                client=self._client)
        if action.email is not None:
            smtp = self.ws.settings.smtp
            password = os.environ.get(smtp.password_env) if smtp.password_env else None
            return send_email(action.email, item.payload, action_id=item.action_id, smtp=smtp,
                              templates_dir=self.ws.root / "templates",
                              timeout=self.settings.timeout_seconds, password=password)
        return Outcome(False, error=f"step {item.step} is not a webhook or e-mail", permanent=True)

    def _action(self, item: Claimed) -> Action:
        key = (item.model, item.model_version)
        model = self._models.get(key)
        if model is None:  # a version's text never changes: read it once per worker
            model = self._models[key] = model_of(self.store.get_version(item.model, item.model_version))
        try:
            return model.workflows[item.workflow_index].do[item.step]
        except IndexError as exc:
            raise LeadscoreError(f"workflow {item.workflow_index} step {item.step} does not exist") from exc

    def _attempt(self, item: Claimed, outcome: Outcome, started: datetime, finished: datetime) -> Attempt:
        next_at = None
        if not outcome.ok and not outcome.permanent:
            next_at = next_attempt_at(finished, item.retry_window_start, item.attempt, self.settings, self.rng)
        return Attempt(item, started, finished, outcome.ok, outcome.status_code, outcome.error, next_at,
                       outcome.target)


def run_standalone(ws: Workspace, stop: threading.Event, *, poll_seconds: float = 1.0,
                   until_idle: bool = False, on_round: Callable[[int], None] | None = None,
                   on_busy: Callable[[str], None] | None = None) -> int:
    """``leadscore worker``: open the store only while actions are due, so other commands get in.

    Returns the number of actions attempted. ``until_idle`` stops once nothing is due (cron use).
    While another process holds the store it waits, telling ``on_busy`` once per wait.
    """
    total = 0
    busy = False
    while not stop.is_set():
        try:
            store = ws.open_store()
        except StoreError as exc:
            if "in use" not in str(exc):
                raise
            if not busy and on_busy is not None:
                on_busy(str(exc))
            busy = True
            stop.wait(poll_seconds)  # another process (leadscore score, say) holds the store
            continue
        busy = False
        try:
            with Worker(store, ws) as worker:
                while not stop.is_set():
                    attempted = worker.deliver_due()
                    total += attempted
                    if on_round is not None and attempted:
                        on_round(attempted)
                    if attempted == 0:
                        break
        finally:
            store.close()
        if until_idle:
            break
        stop.wait(poll_seconds)
    return total
