"""A batch request is one transaction even while single events make the writer size heavy groups
by time (review of i17c: slicing a batch to the writer's time budget made it commit partly on an
error, dated a new contact by the first slice's earliest event, and recorded crossings step by
step only when unrelated single events were about)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tests.api.conftest import make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer


def _batch(cid: str, now: datetime) -> dict[str, object]:
    def at(minutes_ago: int) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat() + "Z"

    events = [{"event_id": f"{cid}-a{i}", "contact_id": cid, "type": "demo_request" if i == 0 else "email_open",
               "occurred_at": at(100 - i)} for i in range(50)]
    # the earliest events come last: a slice of 50 would create the contact before seeing them
    events += [{"event_id": f"{cid}-b{i}", "contact_id": cid, "type": "page_view", "occurred_at": at(1000 + i)}
               for i in range(10)]
    return {"events": events}


def test_a_batch_is_one_transaction_while_single_events_are_about(tmp_path: Path) -> None:
    ws, keys = make_workspace(tmp_path / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    rt = app.state.runtime
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with ThreadedServer(app) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60) as client:
        rt.writer._per_event = 0.001  # 1 ms an event, as at 1M / 20M: heavy groups of 50 while singles wait
        assert rt.writer.slice_size() == 50
        assert client.post("/v1/events", json={"event_id": "single-1", "contact_id": "c2",
                                               "type": "email_open"}).status_code < 300
        runs_before = rt.reader().con.execute("SELECT count(*) FROM score_runs").fetchone()[0]
        response = client.post("/v1/events", json=_batch("newF", now))
        assert response.status_code < 300, response.text
        assert response.json()["accepted"] == 60
        con = rt.reader().con
        created = con.execute("SELECT created_at FROM contacts WHERE contact_id = 'newF'").fetchone()[0]
        earliest = con.execute("SELECT min(occurred_at) FROM events WHERE contact_id = 'newF'").fetchone()[0]
        assert created == earliest  # the earliest event of the request, wherever it sits in it
        history = con.execute("SELECT count(*) FROM score_history WHERE contact_id = 'newF'").fetchone()[0]
        assert history == 1  # one rescoring for the whole request: no intermediate crossing
        assert con.execute("SELECT count(*) FROM score_runs").fetchone()[0] == runs_before + 1
