"""A new user's first minutes: a workspace just made by `leadscore init`, nothing imported or
published. Every page answers and says what to do next; the model file on disk opens in the editor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.web.conftest import Site, csrf_of, serve_site

from leadscore.api.keys import create_key
from leadscore.users import create_user
from leadscore.workspace import init_workspace


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    ws = init_workspace(tmp_path_factory.mktemp("empty") / "ws")
    with ws.open_store() as store:
        create_user(store, "admin", "admin", password="admin-password-1")
        create_user(store, "dana", "rep", owner_value="Dana", password="dana-password-1")
        key = create_key(store, "admin", "t")[1]
    yield from serve_site(ws, key)


def test_every_page_says_what_to_do(empty: Site) -> None:
    admin = empty.login("admin", "admin-password-1")
    expected = {
        "/leads": "No model is published yet",
        "/tasks": "No overdue tasks",
        "/models": "b2b.yml",
        "/reports": "No published model yet",
        "/feedback": "No published model yet",
        "/ops/deliveries": "No deliveries",
        "/ops/lists": "No lists yet",
        "/admin/users": "dana",
        "/admin/keys": "Create key",
    }
    for path, text in expected.items():
        r = admin.get(path)
        assert r.status_code == 200 and text in r.text, path
    rep = empty.login("dana", "dana-password-1")
    assert "No model is published yet" in rep.get("/leads").text


def test_the_model_file_on_disk_opens_tries_and_publishes(empty: Site) -> None:
    admin = empty.login("admin", "admin-password-1")
    page = admin.get("/models/new?file=b2b.yml")
    assert page.status_code == 200 and "name: b2b" in page.text
    assert admin.get("/models/new?file=../leadscore.yml").status_code == 404  # a name from the list only
    token = csrf_of(page.text)
    text = (empty.ws.models_dir / "b2b.yml").read_text()
    r = admin.post("/models/b2b/distribution", data={"csrf_token": token, "text": text})
    assert r.status_code == 200 and 'data-testid="changed-tier"' in r.text  # no contacts: zeros, no error
    confirm = admin.post("/models/b2b/publish", data={"csrf_token": token, "text": text})
    assert "first version of b2b" in confirm.text
    assert "No leads yet" in admin.get("/leads").text  # published, but nothing imported
