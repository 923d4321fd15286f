"""My leads and the lead page over HTTP: who sees what, filters, search, paging, escaping, feedback."""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.web.conftest import XSS_ID, XSS_NAME, Site, csrf_of

from leadscore.engine.explain import explain_contact
from leadscore.storage import lead_rows

LEAD_LINK = re.compile(r'<a class="who" href="/leads/([^"]+)"')


def lead_ids(html: str) -> list[str]:
    from urllib.parse import unquote

    return [unquote(x) for x in LEAD_LINK.findall(html)]


def owners(site: Site, ids: list[str]) -> set[str]:
    rows = site.store.con.execute("SELECT DISTINCT owner FROM contacts WHERE contact_id IN (SELECT unnest($i))",
                                  {"i": ids}).fetchall()
    return {r[0] for r in rows}


def test_a_rep_sees_only_their_leads_in_order(site: Site) -> None:
    page = site.login("dana").get("/leads")
    ids = lead_ids(page.text)
    expected = site.store.con.execute(
        "SELECT count(*) FROM scores s JOIN contacts c USING (contact_id) WHERE c.owner = 'Dana Reyes'").fetchone()[0]
    assert ids and owners(site, ids) == {"Dana Reyes"}
    assert f"<b>{expected:,}</b> lead" in page.text
    # tier first (best first), then score
    rows = dict(site.store.con.execute("SELECT contact_id, score FROM scores WHERE contact_id IN (SELECT unnest($i))",
                                       {"i": ids}).fetchall())
    tiers = dict(site.store.con.execute("SELECT contact_id, tier FROM scores WHERE contact_id IN (SELECT unnest($i))",
                                        {"i": ids}).fetchall())
    rank = {"sql": 0, "nurture": 1, "cold": 2}
    keys = [(rank[tiers[i]], -rows[i]) for i in ids]
    assert keys == sorted(keys)


def test_each_row_s_reason_and_last_activity_are_explain_s_and_the_events(site: Site) -> None:
    html = site.login("mia").get("/leads").text
    rows = re.findall(r'<a class="who" href="/leads/([^"]+)".*?data-label="Why">([^<]*)</td>\s*'
                      r'<td data-label="Last activity">(?:<span title="([^"]+) UTC">)?', html, re.S)
    assert len(rows) == 50
    for cid, reason, last in rows[:10]:
        expected = explain_contact(site.store, cid).reasons(1)
        assert reason == (expected[0] if expected else "—")
        latest = site.store.con.execute("SELECT max(occurred_at) FROM events WHERE contact_id = ?", [cid]).fetchone()[0]
        assert last == (f"{latest:%Y-%m-%d %H:%M}" if latest else "")


def test_a_manager_and_marketing_see_everyone(site: Site) -> None:
    total = site.store.count("scores")
    for user in ("boss", "mia"):
        assert f"<b>{total:,}</b> leads" in site.login(user).get("/leads").text


def test_another_reps_lead_is_not_found_for_a_rep(site: Site) -> None:
    other = site.store.con.execute("SELECT contact_id FROM contacts WHERE owner = 'Marcus Webb' LIMIT 1").fetchone()[0]
    r = site.login("dana").get(f"/leads/{other}")
    assert r.status_code == 404 and "among your leads" in r.text
    assert site.login("marcus").get(f"/leads/{other}").status_code == 200


def test_a_rep_without_an_owner_value_is_told_how_to_get_leads(site: Site) -> None:
    text = site.login("newbie").get("/leads").text
    assert "not linked to an owner value" in text and "--owner-value" in text
    assert "Dana Reyes" not in text and "Marcus Webb" not in text  # other reps' names are not shown


def test_filters_search_and_paging_live_in_the_url(site: Site) -> None:
    mia = site.login("mia")
    tier = site.store.con.execute("SELECT tier FROM scores ORDER BY score DESC LIMIT 1").fetchone()[0]
    some = lead_ids(mia.get(f"/leads?tier={tier}").text)
    assert some and {r[0] for r in site.store.con.execute(
        "SELECT tier FROM scores WHERE contact_id IN (SELECT unnest($i))", {"i": some}).fetchall()} == {tier}
    first, second = lead_ids(mia.get("/leads").text), lead_ids(mia.get("/leads?page=2").text)
    assert len(first) == 50 and second and not set(first) & set(second)
    email, company = site.store.con.execute(
        "SELECT email, company FROM contacts WHERE contact_id = 'c0000042'").fetchone()
    assert lead_ids(mia.get(f"/leads?q={quote(email)}").text) == ["c0000042"]
    assert lead_ids(mia.get("/leads?q=c0000042").text) == ["c0000042"]
    assert "c0000042" in lead_ids(mia.get(f"/leads?q={quote(company[:6].lower())}").text)
    assert lead_ids(mia.get("/leads?q=%25").text) == []  # a literal %, not a wildcard
    moved = lead_ids(mia.get("/leads?moved_up=1").text)
    assert moved
    for cid in moved:
        now, before = site.store.con.execute(
            """SELECT s.score, (SELECT arg_max(h.score, h.as_of) FROM score_history h WHERE h.contact_id = s.contact_id
                 AND h.model = s.model AND h.as_of <= s.as_of - INTERVAL 7 DAY) FROM scores s WHERE contact_id = ?""",
            [cid]).fetchone()
        assert now > before
    assert mia.get("/leads?page=abc").status_code == 400


def test_segment_and_predicted_priority_filters(site: Site) -> None:
    mia = site.login("mia")
    ceos = lead_ids(mia.get("/leads?segment=ceos").text)
    titles = {r[0] for r in site.store.con.execute(
        "SELECT job_title FROM contacts WHERE contact_id IN (SELECT unnest($i))", {"i": ceos}).fetchall()}
    assert ceos and titles == {"CEO"}
    assert "Predicted priority" in mia.get("/leads").text and "disabled" in mia.get("/leads").text
    picked = [r[0] for r in site.store.con.execute("SELECT contact_id FROM scores ORDER BY contact_id LIMIT 3"
                                                   ).fetchall()]

    def predict(ctx: object) -> None:
        con = ctx.store.con  # type: ignore[attr-defined]
        con.execute("INSERT INTO prediction_runs VALUES ('r1', 'likelihood', 1, now(), now(), 3, 0.5, 0, [])")
        for cid in picked:
            con.execute("INSERT INTO predictions VALUES ('likelihood', 1, ?, 0.9, 'very high', NULL, now(), now())",
                        [cid])
        lead_rows.write_priorities(con)  # as `leadscore predict` does in its transaction

    site.runtime.write(predict).result()
    very = lead_ids(mia.get("/leads?priority=very+high").text)
    assert sorted(very) == sorted(picked)
    tiers = dict(site.store.con.execute("SELECT contact_id, tier FROM scores").fetchall())
    tier = tiers[picked[0]]  # within a tier, the predicted priority comes before the score
    prioritised = {c for c in picked if tiers[c] == tier}
    assert set(lead_ids(mia.get(f"/leads?tier={tier}").text)[:len(prioritised)]) == prioritised


def test_next_and_previous_walk_every_lead_once(site: Site) -> None:
    mia = site.login("mia")
    seen: list[list[str]] = []
    url: str | None = "/leads?tier=cold"
    while url:
        html = mia.get(url.replace("&amp;", "&")).text
        seen.append(lead_ids(html))
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1) if found else None
    flat = [cid for page in seen for cid in page]
    total = site.store.con.execute("SELECT count(*) FROM scores WHERE tier = 'cold'").fetchone()[0]
    assert len(seen) > 2 and len(flat) == len(set(flat)) == total
    back = re.search(r'href="([^"]+)" rel="prev"', html).group(1)  # type: ignore[union-attr]
    assert lead_ids(mia.get(back.replace("&amp;", "&")).text) == seen[-2]
    assert mia.get("/leads?after=garbage").status_code == 400


def test_markup_in_contact_data_is_shown_as_text(site: Site) -> None:
    dana = site.login("dana")
    listing = dana.get(f"/leads?q={XSS_ID}").text
    page = dana.get(f"/leads/{XSS_ID}").text
    for html in (listing, page):
        assert "<script>alert(1)" not in html and "<img src=x" not in html and 'onmouseover="alert' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "/pricing?&lt;b&gt;x&lt;/b&gt;" in page
    assert XSS_NAME not in page


def test_lead_page_breakdown_is_explain(site: Site) -> None:
    cid = site.store.con.execute("SELECT contact_id FROM scores ORDER BY score DESC LIMIT 1").fetchone()[0]
    html = site.login("mia").get(f"/leads/{cid}").text
    e = explain_contact(site.store, cid)
    shown = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'data-rule="([^"]+)" data-group="[^"]+" data-points="([-0-9.]+)"', html)}
    assert shown == {r.name: round(r.points, 9) for r in e.rules if r.fired}
    assert f"{e.total:.1f}" in html


def test_feedback_form_stores_the_score_and_keeps_typed_text_on_error(site: Site) -> None:
    dana = site.login("dana")
    cid = lead_ids(dana.get("/leads").text)[0]
    page = dana.get(f"/leads/{cid}").text
    token = csrf_of(page)
    too_long = "x" * 2001
    r = dana.post(f"/leads/{cid}/feedback", data={"csrf_token": token, "verdict": "too_high", "reason": too_long})
    assert r.status_code == 422 and "too long" in r.text and too_long in r.text
    r = dana.post(f"/leads/{cid}/feedback", data={"verdict": "too_high", "reason": "no budget"})
    assert r.status_code == 403  # no CSRF token
    r = dana.post(f"/leads/{cid}/feedback", data={"csrf_token": token, "verdict": "too_high", "reason": "no budget",
                                                   "outcome": "not_a_fit"})
    assert r.status_code == 303
    row = site.store.con.execute("SELECT model, model_version, score, tier, verdict, reason, outcome, author, source "
                                 "FROM feedback WHERE contact_id = ?", [cid]).fetchone()
    score, version = site.store.con.execute("SELECT score, model_version FROM scores WHERE contact_id = ?",
                                            [cid]).fetchone()
    assert row == ("b2b", version, score, row[3], "too_high", "no budget", "not_a_fit", "dana", "dashboard")
    assert "no budget" in dana.get(f"/leads/{cid}").text
