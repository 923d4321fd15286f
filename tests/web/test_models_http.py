"""The model editor over HTTP: live validation words errors as `leadscore validate` does, every step
works without the page's script (the whole editor comes back with the text kept), publishing needs
the confirmed text, and nothing is half-saved."""

from __future__ import annotations

import re

from tests.web.conftest import Site, csrf_of

from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.model.validate import validate_against_store


def _text(site: Site) -> str:
    return site.store.get_version("b2b").text


def test_validate_answers_with_the_cli_s_messages_at_their_lines(site: Site) -> None:
    mia = site.login("mia")
    token = csrf_of(mia.get("/models/b2b/edit").text)
    broken = _text(site).replace("property: job_title", "property: job_tittle")
    r = mia.post("/models/validate", data={"text": broken, "slot": "b2b"}, headers={"X-CSRF-Token": token})
    body = r.json()
    try:
        validate_against_store(parse_model(broken, "models/b2b.yml"), site.store)
        raise AssertionError("the broken model validated")
    except ModelError as exc:
        expected = [(i.line, i.path, i.message) for i in exc.issues]
    assert not body["valid"] and [(i["line"], i["path"], i["message"]) for i in body["issues"]] == expected
    assert "job_tittle" in body["issues"][0]["message"] and body["issues"][0]["hint"]
    assert mia.post("/models/validate", data={"text": broken}).status_code == 403  # no CSRF token


def test_without_script_each_step_returns_the_editor_with_the_text(site: Site) -> None:
    mia = site.login("mia")
    token = csrf_of(mia.get("/models/b2b/edit").text)
    draft = _text(site).replace("points: 20}", "points: 30}")
    cid = site.store.con.execute("SELECT contact_id FROM scores ORDER BY score DESC LIMIT 1").fetchone()[0]
    r = mia.post("/models/b2b/try", data={"csrf_token": token, "text": draft, "lead": [cid, ""]})
    assert r.status_code == 200 and "points: 30}" in r.text and 'data-testid="draft-total"' in r.text
    assert "<html" in r.text  # the whole editor, not a fragment
    r = mia.post("/models/b2b/distribution", data={"csrf_token": token, "text": draft})
    assert r.status_code == 200 and 'data-testid="changed-tier"' in r.text and "points: 30}" in r.text
    r = mia.post("/models/b2b/backtest", data={"csrf_token": token, "text": draft, "bt_as_of": "2025-10-01",
                                               "horizon": "90d"})
    assert r.status_code == 200 and 'data-kpi="auc"' in r.text and "published" in r.text
    r = mia.post("/models/b2b/try", data={"csrf_token": token, "text": draft, "lead": [cid]},
                 headers={"X-Requested-With": "fetch"})
    assert "<html" not in r.text and 'class="tryout"' in r.text  # the script gets the fragment only


def test_an_invalid_draft_cannot_be_tried_or_published_and_keeps_its_text(site: Site) -> None:
    mia = site.login("mia")
    token = csrf_of(mia.get("/models/b2b/edit").text)
    broken = _text(site).replace("points: 20}", "points: lots}")
    for step in ("try", "distribution", "backtest"):
        r = mia.post(f"/models/b2b/{step}", data={"csrf_token": token, "text": broken, "lead": ["c0000001"]})
        assert r.status_code == 422 and "error" in r.text and "points: lots}" in r.text, step
    versions = site.store.count("model_versions")
    r = mia.post("/models/b2b/publish", data={"csrf_token": token, "text": broken})
    assert r.status_code == 422 and "nothing was published" in r.text and "points: lots}" in r.text
    assert site.store.count("model_versions") == versions


def test_publish_needs_the_text_that_was_confirmed(site: Site) -> None:
    mia = site.login("mia")
    token = csrf_of(mia.get("/models/b2b/edit").text)
    draft = _text(site).replace("points: -15}", "points: -16}")
    confirm = mia.post("/models/b2b/publish", data={"csrf_token": token, "text": draft})
    digest = re.search(r'name="hash" value="([0-9a-f]+)"', confirm.text).group(1)  # type: ignore[union-attr]
    versions = site.store.count("model_versions")
    r = mia.post("/models/b2b/publish/confirmed", data={"csrf_token": token, "text": draft + "\n# sneaky",
                                                        "hash": digest})
    assert r.status_code == 400 and "changed after the confirmation" in r.text
    assert site.store.count("model_versions") == versions


def test_a_new_model_starts_from_the_example_and_can_be_saved(site: Site) -> None:
    mia = site.login("mia")
    page = mia.get("/models/new?name=second")
    assert page.status_code == 200 and "name: second" in page.text
    token = csrf_of(page.text)
    text = re.search(r'<textarea[^>]*>(.*?)</textarea>', page.text, re.S).group(1)  # type: ignore[union-attr]
    import html

    r = mia.post("/models/second/draft", data={"csrf_token": token, "text": html.unescape(text)})
    assert r.status_code == 303 and site.store.con.execute(
        "SELECT saved_by FROM model_drafts WHERE model = 'second'").fetchone()[0] == "mia"
    assert "Open the draft" in mia.get("/models").text
    assert mia.get("/models/bad name/edit").status_code == 400


def test_a_new_model_is_published_and_scores_everyone(site: Site) -> None:
    mia = site.login("mia")
    page = mia.get("/models/new?name=fit_only")
    token = csrf_of(page.text)
    text = "version: 1\nname: fit_only\ntiers: {low: 0, high: 10}\ngroups:\n  fit:\n    rules:\n" \
           "      - {name: ceo, when: {property: job_title, equals: CEO}, points: 10}\n"
    confirm = mia.post("/models/fit_only/publish", data={"csrf_token": token, "text": text})
    assert confirm.status_code == 200 and "first version of fit_only" in confirm.text
    digest = re.search(r'name="hash" value="([0-9a-f]+)"', confirm.text).group(1)  # type: ignore[union-attr]
    r = mia.post("/models/fit_only/publish/confirmed", data={"csrf_token": token, "text": text, "hash": digest})
    assert r.status_code == 303
    scored, ceos = site.store.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE tier = 'high') FROM scores WHERE model = 'fit_only'").fetchone()
    assert scored == site.store.count("contacts")  # everyone, in one run
    assert ceos == site.store.con.execute("SELECT count(*) FROM contacts WHERE job_title = 'CEO'").fetchone()[0]
    leads = mia.get("/leads?model=fit_only").text
    assert '<option selected>fit_only</option>' in leads and "ceo +10" in leads
