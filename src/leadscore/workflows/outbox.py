"""The transactional outbox: webhook and e-mail actions, from enqueue to delivered or dead.

An action row is written by the score run's transaction (``enqueue``), so it exists exactly when
its crossing does. The worker then moves it through::

    pending --claim--> sending --success--> delivered
       ^                  |
       +----failure-------+--(retry window over, or a permanent error)--> dead
                                                          (replay: ``retry`` puts it back to pending)

``sending`` is committed *before* the send and the outcome *after* it, so a crash in between
leaves the row ``sending``: the next worker start (or the lease running out) sends it again with
the same ``action_id``, which receivers see as the ``Idempotency-Key``. At least once, never zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store, rows_affected
from leadscore.workflows.triggers import FIRED

STATUSES = ("pending", "sending", "delivered", "dead")
#: ``--status failed``: pending again after a failed attempt (waiting for its retry).
LISTABLE_STATUSES = (*STATUSES, "failed")


@dataclass(frozen=True)
class Delivery:
    """One outbox row as ``leadscore deliveries`` and the API show it."""

    action_id: str
    kind: str
    model: str
    model_version: int
    workflow: str
    contact_id: str
    target: str | None
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    #: the company of an account model's delivery (``contact_id`` is then None)
    company_id: str | None = None


@dataclass(frozen=True)
class Claimed:
    """An action the worker is about to send: where it comes from and what to send."""

    action_id: str
    kind: str
    model: str
    model_version: int
    workflow_index: int
    step: int
    payload: str
    attempt: int
    retry_window_start: datetime


def enqueue(con: duckdb.DuckDBPyConnection, *, kind: str, run_id: str, model: str, model_version: int,
            group_names: list[str], workflow: str, workflow_index: int, step: int, trigger: dict[str, Any],
            target: str | None, as_of: datetime, now: datetime) -> int:
    """One action row per contact in ``_wf_fired``, its JSON body built in SQL (set-based).

    ``action_id`` is derived from (run, workflow, step, contact), so it is unique and stable.
    """
    con.execute(
        f"""INSERT INTO outbox ({OUTBOX_COLUMNS})
        SELECT f.action_id, $kind, $model, $version, $workflow, $wi, $step, f.contact_id, $run,
               $target, {_payload_sql()}, 'pending', 0, $now, $now, $now, NULL, NULL, NULL, NULL
        FROM (SELECT *, md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, contact_id)) AS action_id
              FROM {FIRED}) AS f
        LEFT JOIN contacts AS c ON c.contact_id = f.contact_id""",
        {"kind": kind, "model": model, "version": model_version, "workflow": workflow, "wi": workflow_index,
         "step": step, "run": run_id, "target": target, "now": now, "as_of": as_of,
         "groups": group_names, "trigger": json.dumps(trigger)},
    )
    return rows_affected(con)


#: The columns an action row is written with (the table has more since migration 8: company_id).
OUTBOX_COLUMNS = ("action_id, kind, model, model_version, workflow, workflow_index, step, contact_id, run_id, "
                  "target, payload, status, attempts, created_at, retry_window_start, next_attempt_at, "
                  "lease_until, last_attempt_at, delivered_at, last_error")


def _payload_sql(subject: str = "'contact', to_json(c)") -> str:
    """The webhook body (and the e-mail template context): fixed at enqueue, so retries resend it.

    ``subject`` is the last member: the contact, or for an account workflow the company."""
    return """json_object(
        'id', f.action_id, 'type', 'workflow.fired', 'workflow', $workflow,
        'model', $model, 'model_version', $version, 'run_id', $run,
        'as_of', strftime($as_of, '%Y-%m-%dT%H:%M:%S.%fZ'), 'fired_at', strftime($now, '%Y-%m-%dT%H:%M:%S.%fZ'),
        'trigger', json($trigger),
        'crossing', json_object('from_tier', f.prev_tier, 'to_tier', f.tier,
                                'from_score', f.prev_score, 'to_score', f.score),
        'score', json_object('total', f.score, 'tier', f.tier, 'grade', f.grade,
                             'groups', to_json(map_from_entries(list_zip($groups::VARCHAR[], f.groups)))),
        """ + subject + ")::VARCHAR"


# ---------------------------------------------------------------------------- the worker's side


def recover_sending(con: duckdb.DuckDBPyConnection) -> int:
    """Put back actions a crashed worker left ``sending`` (one worker per store: safe at start)."""
    con.execute("UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'sending'")
    return rows_affected(con)


def claim(store: Store, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Mark up to ``limit`` due actions ``sending`` (committed before any send) and return them.

    Due: pending with ``next_attempt_at`` reached, or sending with an expired lease (a worker
    that died mid-send without a restart of this one).
    """
    with store.transaction() as con:
        rows = con.execute(
            """SELECT action_id, kind, model, model_version, workflow_index, step, payload, attempts + 1,
                      retry_window_start
            FROM outbox
            WHERE (status = 'pending' AND next_attempt_at <= $now)
               OR (status = 'sending' AND lease_until <= $now)
            ORDER BY next_attempt_at, action_id LIMIT $limit""",
            {"now": now, "limit": limit},
        ).fetchall()
        if rows:
            con.execute(
                """UPDATE outbox SET status = 'sending', attempts = attempts + 1, last_attempt_at = $now,
                       lease_until = $lease
                WHERE action_id IN (SELECT UNNEST($ids))""",
                {"now": now, "lease": now + lease, "ids": [r[0] for r in rows]},
            )
    return [Claimed(*r) for r in rows]


@dataclass(frozen=True)
class Attempt:
    """The outcome of one send, as the worker records it."""

    item: Claimed
    started: datetime
    finished: datetime
    ok: bool
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None  # None after a failure: give up (dead letter)
    target: str | None = None  # e-mail: the rendered recipient

    @property
    def status(self) -> str:
        return "delivered" if self.ok else ("pending" if self.next_attempt_at is not None else "dead")


def record_attempts(store: Store, attempts: list[Attempt]) -> None:
    """Store the outcomes of sends that finished together, in one transaction.

    One commit per batch rather than per send: a commit costs milliseconds, a local send less.
    A crash before this commit re-sends the batch's actions, with their Idempotency-Keys.
    """
    if not attempts:
        return
    columns = {
        "id": [a.item.action_id for a in attempts], "attempt": [a.item.attempt for a in attempts],
        "started": [a.started for a in attempts], "finished": [a.finished for a in attempts],
        "ok": [a.ok for a in attempts], "code": [a.status_code for a in attempts],
        "error": [a.error for a in attempts], "status": [a.status for a in attempts],
        "next": [a.next_attempt_at for a in attempts], "target": [a.target for a in attempts],
    }
    # one statement per table over parallel lists: an UPDATE per row costs a few milliseconds
    rows = """SELECT UNNEST($id) AS id, UNNEST($attempt) AS attempt, UNNEST($started::TIMESTAMP[]) AS started,
                     UNNEST($finished::TIMESTAMP[]) AS finished, UNNEST($ok::BOOLEAN[]) AS ok,
                     UNNEST($code::INTEGER[]) AS code, UNNEST($error::VARCHAR[]) AS error,
                     UNNEST($status) AS status, UNNEST($next::TIMESTAMP[]) AS next,
                     UNNEST($target::VARCHAR[]) AS target"""
    with store.transaction() as con:
        con.execute(f"INSERT INTO delivery_attempts SELECT id, attempt, started, finished, ok, code, error "
                    f"FROM ({rows})", columns)
        con.execute(
            f"""UPDATE outbox SET status = u.status, lease_until = NULL, last_error = u.error,
                   delivered_at = CASE WHEN u.ok THEN u.finished END,
                   next_attempt_at = coalesce(u.next, outbox.next_attempt_at),
                   target = coalesce(u.target, outbox.target)
            FROM ({rows}) AS u WHERE outbox.action_id = u.id""",
            columns,
        )


# ---------------------------------------------------------------------------- listing and replay


#: a Delivery's columns, in its order (the next attempt only while one is due)
_DELIVERY_COLUMNS = """action_id, kind, model, model_version, workflow, contact_id, target, status, attempts,
    created_at, CASE WHEN status = 'pending' THEN next_attempt_at END, last_attempt_at, delivered_at, last_error,
    company_id"""


def list_deliveries(store: Store, *, status: str | None = None, limit: int = 100,
                    after: str | None = None) -> list[Delivery]:
    """Outbox rows, newest first, paginated by ``after`` (an action_id from the previous page)."""
    if status is not None and status not in LISTABLE_STATUSES:
        raise LeadscoreError(f"unknown delivery status {status!r}: use one of {', '.join(LISTABLE_STATUSES)}")
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if status == "failed":
        where.append("status = 'pending' AND attempts > 0")
    elif status is not None:
        where.append("status = $status")
        params["status"] = status
    if after is not None:
        where.append("(created_at, action_id) < (SELECT (created_at, action_id) FROM outbox WHERE action_id = $after)")
        params["after"] = after
    rows = store.con.execute(
        f"""SELECT {_DELIVERY_COLUMNS}
        FROM outbox WHERE {' AND '.join(where)} ORDER BY created_at DESC, action_id DESC LIMIT $limit""",
        params,
    ).fetchall()
    return [Delivery(*r) for r in rows]


def get_delivery(store: Store, action_id: str) -> Delivery:
    """One outbox row (NotFoundError for an unknown id)."""
    row = store.con.execute(f"SELECT {_DELIVERY_COLUMNS} FROM outbox WHERE action_id = ?", [action_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no delivery `{action_id}`; list them with `leadscore deliveries`")
    return Delivery(*row)


def attempts_of(store: Store, action_id: str) -> list[dict[str, Any]]:
    """Every attempt of one action, oldest first (NotFoundError for an unknown id)."""
    if not store.con.execute("SELECT 1 FROM outbox WHERE action_id = ?", [action_id]).fetchone():
        raise NotFoundError(f"no delivery `{action_id}`; list them with `leadscore deliveries`")
    cur = store.con.execute(
        "SELECT attempt, started_at, finished_at, ok, status_code, error FROM delivery_attempts "
        "WHERE action_id = ? ORDER BY attempt", [action_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def retry(store: Store, *, action_ids: list[str] | None = None, all_dead: bool = False,
          now: datetime) -> int:
    """Replay dead (or failed) actions now, with a fresh retry window; returns how many.

    The ``action_id`` (so the Idempotency-Key) stays: a receiver that did get an earlier attempt
    can still drop the duplicate.
    """
    if not action_ids and not all_dead:
        raise LeadscoreError("say which deliveries to retry: give action ids or --all-dead")
    with store.transaction() as con:
        if action_ids:
            found = {r[0]: r[1] for r in con.execute(
                "SELECT action_id, status FROM outbox WHERE action_id IN (SELECT UNNEST(?))", [action_ids]
            ).fetchall()}
            missing = [a for a in action_ids if a not in found]
            if missing:
                raise NotFoundError(f"no delivery {', '.join(missing)}; list them with `leadscore deliveries`")
            done = [a for a, s in found.items() if s in ("delivered", "sending")]
            if done:
                raise LeadscoreError(f"delivery {', '.join(done)} is {found[done[0]]}: only pending or dead "
                                     "ones can be retried")
            where, params = "action_id IN (SELECT UNNEST($ids))", {"ids": action_ids}
        else:
            where, params = "status = 'dead'", {}
        con.execute(
            f"""UPDATE outbox SET status = 'pending', next_attempt_at = $now, retry_window_start = $now,
                   lease_until = NULL WHERE {where}""",
            {**params, "now": now},
        )
        return rows_affected(con)


def purge_delivered(store: Store, *, before: datetime) -> int:
    """Delete delivered actions (and their attempts) delivered before ``before``; returns how many.

    The outbox keeps every action until purged: dead and pending ones are never purged here.
    """
    with store.transaction() as con:
        con.execute("""DELETE FROM delivery_attempts WHERE action_id IN
                       (SELECT action_id FROM outbox WHERE status = 'delivered' AND delivered_at < ?)""", [before])
        con.execute("DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?", [before])
        return rows_affected(con)


def undelivered_count(store: Store, statuses: tuple[str, ...] = ("pending", "sending")) -> int:
    """Actions queued but not yet delivered (pending or being sent; ``statuses`` to narrow)."""
    row = store.con.execute("SELECT count(*) FROM outbox WHERE status IN (SELECT UNNEST($s::VARCHAR[]))",
                            {"s": list(statuses)}).fetchone()
    return int(row[0]) if row else 0
