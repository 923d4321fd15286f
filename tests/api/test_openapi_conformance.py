"""The OpenAPI document matches what the server answers: every operation, schemathesis's checks
(no 5xx, documented status codes, content types and response schemas: timestamps with their offset),
valid and invalid requests, over real HTTP with an admin key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.conftest import Api, make_workspace

from leadscore.api import create_app
from leadscore.api.server import ThreadedServer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6  # per operation and mode: ~250 requests in all, a few seconds


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    ws, keys = make_workspace(tmp_path_factory.mktemp("conformance") / "ws")
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        yield Api(server.url, ws, app.state.runtime, keys)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_response_matches_the_served_document(api: Api, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    tested = 0
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
            tested += 1
        except Unsatisfiable:  # nothing to break in an operation without parameters or body
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert tested >= len(operations) // 2


def test_a_body_that_is_not_utf8_is_a_422_json_invalid(api: Api) -> None:
    r = api.client().post("/v1/events", content=b"\xff\xfe{", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text
    r = api.client().post("/v1/events", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text


def test_timestamps_carry_their_offset(api: Api) -> None:
    body = api.client("read").get("/v1/contacts/c1").json()
    assert body["scores"][0]["as_of"].endswith("Z") and body["scores"][0]["computed_at"].endswith("Z")
    explained = api.client("read").get("/v1/contacts/c1/explain").json()
    assert explained["as_of"].endswith("Z")
