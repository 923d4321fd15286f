"""Delivery with real receivers: retries on a fake clock, signatures, dead letters, replays, e-mail."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from tests.workflows.helpers import MakeWs, rescore, set_props
from tests.workflows.receivers import MailReceiver, WebhookReceiver

from leadscore.errors import LeadscoreError as LeadscoreErrorType
from leadscore.timeutil import utcnow
from leadscore.workflows import outbox
from leadscore.workflows.worker import Worker
from leadscore.workspace import Workspace

SECRET = "whsec_test"


def webhook_model(url: str, *, timeout: float = 5) -> str:
    return f"""workflows:
  - name: to sales
    on: {{enters_tier: warm}}
    do:
      - webhook: {{url: "{url}", secret: {SECRET}, timeout_seconds: {timeout}, headers: {{X-Team: sales}}}}
"""


def fire(ws: Workspace, *cids: str) -> None:
    with ws.open_store() as store:
        for cid in cids:
            set_props(store, cid, company_size=500)
        rescore(store, ws, *cids)


def statuses(worker: Worker) -> dict[str, str]:
    return {d.contact_id: d.status for d in outbox.list_deliveries(worker.store)}


def test_retries_with_backoff_until_delivered_same_key_and_body(make_ws: MakeWs) -> None:
    with WebhookReceiver(secret=SECRET, fail_first=2) as receiver:
        ws = make_ws(webhook_model(receiver.url))
        fire(ws, "k1")
        t0 = utcnow()
        with ws.open_store() as store, Worker(store, ws, rng=random.Random(1)) as worker:
            assert worker.deliver_due(now=t0) == 1  # 500
            [d] = outbox.list_deliveries(store, status="failed")
            wait = (d.next_attempt_at - t0).total_seconds() if d.next_attempt_at else -1
            assert 8 <= wait <= 12  # ~10 s ± 20%
            assert worker.deliver_due(now=t0 + timedelta(seconds=7)) == 0  # not due yet
            assert worker.deliver_due(now=t0 + timedelta(seconds=13)) == 1  # 500 again
            [d] = outbox.list_deliveries(store)
            wait = (d.next_attempt_at - (t0 + timedelta(seconds=13))).total_seconds() if d.next_attempt_at else -1
            assert 16 <= wait <= 24  # doubled
            assert worker.deliver_due(now=t0 + timedelta(seconds=40)) == 1  # 200
            assert statuses(worker) == {"k1": "delivered"}
            assert worker.deliver_due(now=t0 + timedelta(hours=2)) == 0  # never again
            attempts = outbox.attempts_of(store, d.action_id)
        assert [(a["attempt"], a["ok"], a["status_code"]) for a in attempts] == \
            [(1, False, 500), (2, False, 500), (3, True, 200)]
    reqs = receiver.requests
    assert len(reqs) == 3 and {r.key for r in reqs} == {d.action_id}
    assert all(r.signature_ok for r in reqs)
    assert len({r.body for r in reqs}) == 1  # the same bytes every time
    assert [r.headers["Leadscore-Attempt"] for r in reqs] == ["1", "2", "3"]
    assert reqs[0].headers["X-Team"] == "sales"
    body = reqs[0].json
    assert body["contact"]["contact_id"] == "k1" and body["contact"]["email"] == "ann@acme.com"
    assert body["crossing"] == {"from_tier": "cold", "to_tier": "warm", "from_score": 0.0, "to_score": 20.0}
    assert body["score"]["groups"] == {"fit": 20.0, "engagement": 0.0}
    assert (body["model"], body["model_version"], body["trigger"]) == ("t", 1, {"enters_tier": "warm"})


def test_a_wrong_secret_fails_verification() -> None:
    from leadscore.workflows.signing import sign, verify

    header = sign(SECRET, b'{"a":1}', 1_700_000_000)
    assert verify(SECRET, b'{"a":1}', header, now=1_700_000_100)
    assert not verify("other", b'{"a":1}', header, now=1_700_000_100)
    assert not verify(SECRET, b'{"a":2}', header, now=1_700_000_100)
    assert not verify(SECRET, b'{"a":1}', header, now=1_700_001_000)  # too old: a replay


def test_gives_up_after_the_window_then_replay_delivers(make_ws: MakeWs) -> None:
    with WebhookReceiver(secret=SECRET, fail_first=10**6) as receiver:
        ws = make_ws(webhook_model(receiver.url))
        fire(ws, "k1", "k2")
        t0 = utcnow()
        with ws.open_store() as store, Worker(store, ws, rng=random.Random(2)) as worker:
            now = t0
            while worker.deliver_due(now=now) or now < t0 + timedelta(hours=30):
                now += timedelta(minutes=30)
            assert statuses(worker) == {"k1": "dead", "k2": "dead"}
            dead = outbox.list_deliveries(store, status="dead")
            assert all("HTTP 500" in (d.last_error or "") for d in dead)
            tries = dead[0].attempts
            assert 20 <= tries <= 60  # ~10 s doubling to an hour, for 24 h
            receiver.fail_first = 0
            assert outbox.retry(store, all_dead=True, now=now) == 2
            assert worker.deliver_due(now=now) == 2
            assert statuses(worker) == {"k1": "delivered", "k2": "delivered"}
        assert len(set(receiver.keys())) == 2  # replays keep their Idempotency-Key


def test_a_slow_receiver_times_out_and_is_retried(make_ws: MakeWs) -> None:
    with WebhookReceiver(delay=1.5) as receiver:
        ws = make_ws(webhook_model(receiver.url, timeout=0.3))
        fire(ws, "k1")
        with ws.open_store() as store, Worker(store, ws) as worker:
            worker.deliver_due()
            [d] = outbox.list_deliveries(store)
            assert d.status == "pending" and "no answer within 0.3 s" in (d.last_error or "")


def test_retry_refuses_unknown_and_delivered_ids(make_ws: MakeWs) -> None:
    from leadscore.errors import LeadscoreError, NotFoundError

    with WebhookReceiver() as receiver:
        ws = make_ws(webhook_model(receiver.url))
        fire(ws, "k1")
        with ws.open_store() as store, Worker(store, ws) as worker:
            worker.deliver_due()
            [d] = outbox.list_deliveries(store)
            with pytest.raises(NotFoundError, match="no delivery nope"):
                outbox.retry(store, action_ids=["nope"], now=utcnow())
            with pytest.raises(LeadscoreError, match="is delivered"):
                outbox.retry(store, action_ids=[d.action_id], now=utcnow())
            with pytest.raises(LeadscoreError, match="--all-dead"):
                outbox.retry(store, now=utcnow())


EMAIL_MODEL = """workflows:
  - name: welcome
    on: {enters_tier: warm}
    do:
      - email: {to: "{{ contact.email }}", subject: "Hello {{ contact.first_name }}",
                body: "Your score is {{ score | round(1) }} ({{ tier }})."}
      - email: {to: "{{ contact.email }}", subject: "broken", body: "{{ contact.first_name | nosuchfilter }}"}
      - email: {to: "{{ contact.email }}", subject: "Report", template: report.txt}
"""


def test_email_through_smtp_with_templates(make_ws: MakeWs) -> None:
    with MailReceiver() as mail:
        ws = make_ws(EMAIL_MODEL, f"smtp: {{host: 127.0.0.1, port: {mail.port}, from_address: ls@example.com}}\n")
        (ws.root / "templates").mkdir()
        (ws.root / "templates" / "report.txt").write_text("Dear {{ contact.first_name }}, you are {{ tier }}.\n")
        fire(ws, "k1")
        with ws.open_store() as store, Worker(store, ws) as worker:
            assert worker.deliver_due() == 3
            by_step = {d.target: d for d in outbox.list_deliveries(store)}
            rows = store.con.execute("SELECT step, status, last_error, target FROM outbox ORDER BY step").fetchall()
    assert [(s, st) for s, st, _, _ in rows] == [(0, "delivered"), (1, "dead"), (2, "delivered")]
    assert "nosuchfilter" in rows[1][2]  # a template error is permanent: dead at once
    assert "ann@acme.com" in by_step
    subjects = {m["Subject"]: m for m in mail.messages}
    assert set(subjects) == {"Hello Ann", "Report"}
    hello = subjects["Hello Ann"]
    assert hello["To"] == "ann@acme.com" and hello["From"] == "ls@example.com"
    assert hello.get_payload(decode=True).decode().strip() == "Your score is 20.0 (warm)."
    assert subjects["Report"].get_payload(decode=True).decode().replace("\r\n", "\n") == "Dear Ann, you are warm.\n"
    assert hello["Message-ID"].startswith("<") and hello["Idempotency-Key"] in hello["Message-ID"]


def test_email_without_smtp_settings_is_retried_with_a_clear_error(make_ws: MakeWs) -> None:
    ws = make_ws(EMAIL_MODEL.split("      - email: {to: \"{{ contact.email }}\", subject: \"broken\"")[0])
    fire(ws, "k1")
    with ws.open_store() as store, Worker(store, ws) as worker:
        worker.deliver_due()
        [d] = outbox.list_deliveries(store)
        assert d.status == "pending" and "set smtp.host in leadscore.yml" in (d.last_error or "")


def test_run_in_a_thread_on_a_cursor_while_the_main_connection_scores(make_ws: MakeWs) -> None:
    """The server's arrangement: the worker thread on its own cursor, rescoring on the writer."""
    import threading
    import time

    with WebhookReceiver(secret=SECRET) as receiver:
        ws = make_ws(webhook_model(receiver.url))
        with ws.open_store() as store:
            stop = threading.Event()
            thread = threading.Thread(target=Worker(store.cursor(), ws).run, args=(stop, 0.05))
            thread.start()
            try:
                for cid in ("k1", "k2", "k3"):
                    set_props(store, cid, company_size=500)
                    rescore(store, ws, cid)
                deadline = time.time() + 30
                while len(receiver.requests) < 3 and time.time() < deadline:
                    time.sleep(0.05)
            finally:
                stop.set()
                thread.join(30)
            assert not thread.is_alive()
            assert {d.status for d in outbox.list_deliveries(store)} == {"delivered"}
        assert len(set(receiver.keys())) == 3


def test_deliveries_page_by_keyset(make_ws: MakeWs) -> None:
    ws = make_ws(webhook_model("http://127.0.0.1:9/never"))
    fire(ws, "k1", "k2", "k3")
    with ws.open_store() as store:
        first = outbox.list_deliveries(store, limit=2)
        rest = outbox.list_deliveries(store, limit=2, after=first[-1].action_id)
        assert len(first) == 2 and len(rest) == 1
        assert {d.contact_id for d in first + rest} == {"k1", "k2", "k3"}
        with pytest.raises(LeadscoreErrorType, match="unknown delivery status"):
            outbox.list_deliveries(store, status="lost")


def test_a_malformed_url_is_recorded_and_the_worker_goes_on(make_ws: MakeWs) -> None:
    ws = make_ws(webhook_model("http://[not-a-host/hook"))
    fire(ws, "k1")
    with ws.open_store() as store, Worker(store, ws) as worker:
        assert worker.deliver_due() == 1
        [d] = outbox.list_deliveries(store)
        assert d.status == "pending" and d.last_error


def test_purge_removes_only_old_delivered_actions(make_ws: MakeWs) -> None:
    with WebhookReceiver(fail_first=1) as receiver:
        ws = make_ws(webhook_model(receiver.url))
        fire(ws, "k1", "k2")
        t0 = utcnow()
        with ws.open_store() as store, Worker(store, ws) as worker:
            worker.deliver_due(now=t0)  # one of the two fails
            assert sorted(d.status for d in outbox.list_deliveries(store)) == ["delivered", "pending"]
            assert outbox.purge_delivered(store, before=t0 - timedelta(days=1)) == 0  # not old enough
            assert outbox.purge_delivered(store, before=utcnow() + timedelta(seconds=1)) == 1
            [left] = outbox.list_deliveries(store)
            assert left.status == "pending" and outbox.attempts_of(store, left.action_id)
            assert store.con.execute("SELECT count(*) FROM delivery_attempts").fetchone() == (1,)


def test_worker_forgets_old_delivered_actions_hourly(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadscore.workflows import worker as worker_module

    with WebhookReceiver(secret=SECRET) as receiver:
        ws = make_ws(webhook_model(receiver.url))  # delivery.keep_delivered_days: 30 by default
        fire(ws, "k1")
        t0 = utcnow()
        with ws.open_store() as store, Worker(store, ws) as worker:
            assert worker.deliver_due(now=t0) == 1
        fire(ws, "k2")
        with ws.open_store() as store, Worker(store, ws) as worker:
            assert worker.deliver_due(now=t0 + timedelta(days=20)) == 1
            assert statuses(worker) == {"k1": "delivered", "k2": "delivered"}
            k1 = next(d.action_id for d in outbox.list_deliveries(store) if d.contact_id == "k1")
            monkeypatch.setattr(worker_module, "_last_purge", {})  # an hour has passed
            worker.deliver_due(now=t0 + timedelta(days=40))  # forgets what was delivered before day 10
            assert statuses(worker) == {"k2": "delivered"}
            left = store.con.execute("SELECT count(*) FROM delivery_attempts WHERE action_id = ?", [k1])
            assert left.fetchone() == (0,)  # its attempts go with it
            worker.deliver_due(now=t0 + timedelta(days=90))  # within the hour: nothing more
            assert statuses(worker) == {"k2": "delivered"}


def test_keep_delivered_days_zero_keeps_everything(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadscore.workflows import worker as worker_module

    with WebhookReceiver(secret=SECRET) as receiver:
        ws = make_ws(webhook_model(receiver.url), "delivery:\n  keep_delivered_days: 0\n")
        fire(ws, "k1")
        t0 = utcnow()
        with ws.open_store() as store, Worker(store, ws) as worker:
            assert worker.deliver_due(now=t0) == 1
            monkeypatch.setattr(worker_module, "_last_purge", {})
            worker.deliver_due(now=t0 + timedelta(days=3650))
            assert statuses(worker) == {"k1": "delivered"}


def test_keep_delivered_days_is_bounded() -> None:
    from pydantic import ValidationError

    from leadscore.workspace import DeliverySettings

    assert DeliverySettings(keep_delivered_days=36500).keep_delivered_days == 36500
    for bad in (36501, float("inf"), -1):
        with pytest.raises(ValidationError):
            DeliverySettings(keep_delivered_days=bad)


def test_a_failing_round_does_not_stop_the_worker(make_ws: MakeWs, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from leadscore.workflows import worker as worker_module

    real_claim = outbox.claim
    calls = {"n": 0}

    def flaky_claim(*args: object, **kwargs: object) -> list[outbox.Claimed]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in one round")
        return real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module.outbox, "claim", flaky_claim)
    with WebhookReceiver(secret=SECRET) as receiver:
        ws = make_ws(webhook_model(receiver.url))
        fire(ws, "k1")
        stop = threading.Event()
        with ws.open_store() as store:
            worker = Worker(store, ws)
            thread = threading.Thread(target=worker.run, args=(stop, 0.05))
            thread.start()
            try:
                for _ in range(200):
                    if receiver.requests:
                        break
                    stop.wait(0.05)
            finally:
                stop.set()
                thread.join(30)
        assert calls["n"] >= 2 and len(receiver.requests) == 1
