"""With an account model published, rescoring a contact rescores its company's ``account_scores``
row, which no claimed key names: a single event for one contact of a company commits on the side
lane while a batch for another contact of it runs on the main lane, and one of the two loses
DuckDB's conflict. Every request must still succeed (api/writer.py: the side lane hands a lost job
to the main lane; the main lane reruns a lost group claiming everything), and the stored scores
must be what a whole-base run gives."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from tests.accounts.helpers import build, served
from tests.api.test_batch_memory import _scores_are_the_compiled_query
from tests.api.test_side_lane import _clients

import leadscore
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

#: contacts of Acme: batches for two of them, single events for the others (eli by e-mail domain)
BATCH = ["dana", "fay"]
SINGLE = ["eli", "ivy"]


def _account_scores(reader: Store) -> dict[str, tuple[float, str]]:
    return {c: (s, t) for c, s, t in reader.con.execute(
        "SELECT company_id, score, tier FROM account_scores WHERE model = 'accounts'").fetchall()}


def _post(client: httpx.Client, body: dict[str, object]) -> httpx.Response:
    """POST /v1/events; a connection error is an answer too (a 599 carrying it)."""
    try:
        return client.post("/v1/events", json=body)
    except httpx.HTTPError as exc:
        return httpx.Response(599, text=repr(exc))


def test_batches_and_singles_for_one_company_all_succeed(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    leadscore.score(workspace=ws, as_of=utcnow())
    errors: list[str] = []
    with served(ws) as (client, app):
        rt = app.state.runtime
        url, headers = str(client.base_url), dict(client.headers)

        def batches(tag: str) -> None:
            rng = random.Random(tag)
            with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
                for n in range(8):
                    events = [{"event_id": f"{tag}-{n}-{i}", "contact_id": rng.choice(BATCH), "type": "page_view",
                               "properties": {"url": "/pricing"}} for i in range(300)]
                    r = _post(c, {"events": events})
                    if r.status_code != 200:
                        errors.append(r.text)

        def singles(tag: str) -> None:
            rng = random.Random(tag)
            with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
                for n in range(80):
                    r = _post(c, {"event_id": f"{tag}-{n}", "contact_id": rng.choice(SINGLE),
                                  "type": "page_view", "properties": {"url": "/pricing"}})
                    if r.status_code != 200:
                        errors.append(r.text)

        _clients(batches, 2, singles, 4)
        assert not errors, errors[:3]
        assert rt.writer.side_groups > 0  # the single events did take the side lane
        reader = rt.reader()
        views = reader.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'b%' OR event_id LIKE 's%'")
        assert views.fetchone() == (2 * 8 * 300 + 4 * 80,)
        _scores_are_the_compiled_query(reader, "b2b")
        served_accounts = _account_scores(reader)
        (as_of,) = reader.con.execute("SELECT max(as_of) FROM account_scores WHERE company_id = 'acme'").fetchone()
    # a whole-base run at the last real-time instant gives the same company scores (the contacts'
    # own scores were taken a few seconds apart: 30-day decay moves them by far less than 1e-4)
    leadscore.score(workspace=ws, as_of=as_of)
    with leadscore.open_store(ws, read_only=True) as store:
        batch_run = _account_scores(store)
    assert sorted(batch_run) == sorted(served_accounts)
    for company, (score, tier) in batch_run.items():
        assert served_accounts[company][0] == pytest.approx(score, rel=1e-4) and served_accounts[company][1] == tier
