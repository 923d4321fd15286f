"""Company ids sent to the API are stored as the importer stores them: trimmed of spaces, and an
empty one is no company (NULL), so a contact with ``company_id: ""`` still joins its e-mail
domain's company. On a real server over a real store (``accounts.match_by_domain: true``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.accounts.helpers import build, served

import leadscore
from leadscore.timeutil import utcnow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    ws = build(tmp_path_factory.mktemp("keys") / "ws")
    leadscore.score(workspace=ws, as_of=utcnow())
    with served(ws) as (c, app):
        c.app = app  # type: ignore[attr-defined]
        yield c


def _company_of(client: httpx.Client, contact_id: str) -> object:
    store = client.app.state.runtime.reader()  # type: ignore[attr-defined]
    row = store.con.execute("SELECT company_id FROM contacts WHERE contact_id = ?", [contact_id]).fetchone()
    return row[0] if row else "missing"


def _members(client: httpx.Client, company_id: str) -> set[str]:
    return {c["contact_id"] for c in client.get(f"/v1/companies/{company_id}").json()["contacts"]}


@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_an_empty_company_id_on_a_put_is_no_company(client: httpx.Client, empty: str) -> None:
    """fay is acme's by company_id; without one she is acme's again by her e-mail domain."""
    r = client.put("/v1/contacts/fay", json={"company_id": empty})
    assert r.status_code == 200, r.text
    assert _company_of(client, "fay") is None
    assert "fay" in _members(client, "acme")
    client.put("/v1/contacts/fay", json={"company_id": "acme"})


def test_a_company_id_with_spaces_is_trimmed(client: httpx.Client) -> None:
    r = client.put("/v1/contacts/hal", json={"company_id": "  acme "})
    assert r.status_code == 200, r.text
    assert _company_of(client, "hal") == "acme" and "hal" in _members(client, "acme")
    client.put("/v1/contacts/hal", json={"company_id": "globex"})


def test_a_segment_identify_trims_and_empties_company_id_too(client: httpx.Client) -> None:
    for i, (given, stored) in enumerate(((" ", None), (" globex ", "globex"))):
        r = client.post("/v1/segment", json={"type": "identify", "userId": "dana", "messageId": f"k-{i}",
                                             "traits": {"company_id": given}})
        assert r.status_code == 200, r.text
        assert _company_of(client, "dana") == stored
    assert "dana" in _members(client, "globex")
    client.put("/v1/contacts/dana", json={"company_id": "acme"})


def test_a_company_id_in_the_path_is_trimmed_and_never_empty(client: httpx.Client) -> None:
    r = client.put("/v1/companies/%20initech%20", json={"name": "Initech"})
    assert r.status_code == 200, r.text
    assert r.json()["company_id"] == "initech"
    assert client.get("/v1/companies/initech").json()["properties"]["name"] == "Initech"
    assert client.get("/v1/companies/%20initech").status_code == 200
    r = client.put("/v1/companies/%20%20", json={"name": "Nobody"})
    assert r.status_code == 422 and "only spaces" in r.text
