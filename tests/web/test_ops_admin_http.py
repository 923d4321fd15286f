"""Reports, feedback review, operations and administration pages over HTTP."""

from __future__ import annotations

import csv
import io
import re

from tests.web.conftest import Site, csrf_of

from leadscore.users import check_login


def test_report_in_the_app_and_its_offline_file(site: Site) -> None:
    mia = site.login("mia")
    page = mia.get("/reports?show=1&model=b2b&as_of=2025-10-01&horizon=90d")
    assert page.status_code == 200
    for section in ("findings", "overview", "tiers", "backtest", "rules", "feedback", "thresholds", "stuck"):
        assert f'id="{section}"' in page.text, section
    assert 'data-chart="chart-tiers-data"' in page.text and "Plotly.newPlot" not in page.text  # drawn by app.js
    r = mia.get("/reports/download?model=b2b&as_of=2025-10-01&horizon=90d")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith('attachment; filename="report-b2b-')
    assert "Plotly.newPlot" in r.text and len(r.text) > 3_000_000  # the offline file, plotly.js inlined
    bad = mia.get("/reports?show=1&model=b2b&label=no_such_column")
    assert bad.status_code in (200, 422) and "no_such_column" in bad.text


def test_feedback_review_lists_disputes_with_their_rules_and_the_audit(site: Site) -> None:
    api = site.api()
    ids = [r[0] for r in site.store.con.execute("SELECT contact_id FROM scores ORDER BY score DESC LIMIT 5").fetchall()]
    for cid in ids[:3]:
        assert api.post(f"/v1/contacts/{cid}/feedback", json={"verdict": "too_high", "reason": "<i>no</i>"}
                        ).status_code == 201
    api.post(f"/v1/contacts/{ids[3]}/feedback", json={"verdict": "too_low"})
    mia = site.login("mia")
    page = mia.get("/feedback?verdict=too_high").text
    assert all(f'data-contact="{cid}"' in page for cid in ids[:3]) and ids[3] not in page
    assert "&lt;i&gt;no&lt;/i&gt;" in page and 'class="tag"' in page  # the rules that had fired
    assert "Too high <span class=\"small\">(3)" in page
    fragment = mia.get("/feedback/audit?model=b2b", headers={"X-Requested-With": "fetch"}).text
    assert "<html" not in fragment and "Feedback from reps on 4 leads" in fragment
    assert "Feedback from reps on 4 leads" in mia.get("/feedback?audit=1").text  # without the script


def test_deliveries_and_retry(site: Site) -> None:
    mia = site.login("mia")
    page = mia.get("/ops/deliveries").text
    action = re.search(r'data-action="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    site.runtime.write(lambda ctx: ctx.store.con.execute(
        "UPDATE outbox SET status = 'dead', attempts = 7, last_error = 'HTTP 500' WHERE action_id = ?",
        [action])).result()
    dead = mia.get("/ops/deliveries?status=dead").text
    assert action in dead and "HTTP 500" in dead
    detail = mia.get(f"/ops/deliveries/{action}")
    assert detail.status_code == 200 and "Idempotency-Key" in detail.text
    r = mia.post("/ops/deliveries/retry", data={"csrf_token": csrf_of(dead), "action_id": action})
    assert r.status_code == 303
    status, attempts = site.store.con.execute("SELECT status, attempts FROM outbox WHERE action_id = ?",
                                              [action]).fetchone()
    assert status == "pending"


def test_lists_with_sizes_members_and_csv(site: Site) -> None:
    site.runtime.write(lambda ctx: ctx.store.con.execute(
        """INSERT INTO lists VALUES ('vip', now()); INSERT INTO list_members
           SELECT 'vip', contact_id, now(), 'test' FROM contacts ORDER BY contact_id LIMIT 3""")).result()
    mia = site.login("mia")
    page = mia.get("/ops/lists").text
    assert 'data-list="vip"' in page and re.search(r'data-label="Contacts">3<', page)
    ceos = site.store.con.execute("SELECT count(*) FROM contacts WHERE job_title = 'CEO'").fetchone()[0]
    assert 'data-list="ceos"' in page and f'data-label="Contacts">{ceos:,}<' in page and "chief executives" in page
    members = mia.get("/ops/lists/vip").text
    assert "c0000001" in members
    r = mia.get("/ops/lists/vip/export.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.headers["content-type"].startswith("text/csv") and [x["contact_id"] for x in rows] == [
        "c0000001", "c0000002", "c0000003"]


def test_admin_manages_users_and_keys(site: Site) -> None:
    admin = site.login("admin")
    page = admin.get("/admin/users")
    token = csrf_of(page.text)
    r = admin.post("/admin/users", data={"csrf_token": token, "username": "zoe", "role": "rep",
                                         "owner_value": "Priya Nair"})
    secret = re.search(r'data-testid="secret">([^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    assert check_login(site.store, "zoe", secret) is not None
    zoe = site.login("zoe", secret)
    assert zoe.get("/leads").status_code == 200
    r = admin.post("/admin/users", data={"csrf_token": token, "username": "zoe", "role": "rep"})
    assert r.status_code == 422 and "exists already" in r.text and 'value="zoe"' in r.text  # typed text kept
    r = admin.post("/admin/users/zoe", data={"csrf_token": token, "action": "disable"})
    assert r.status_code == 303
    assert zoe.get("/leads").status_code == 303  # her session ended at once
    r = admin.post("/admin/users/admin", data={"csrf_token": token, "action": "disable"})
    assert r.status_code == 400 and "your own account" in r.text
    r = admin.post("/admin/users/mia", data={"csrf_token": token, "action": "save", "role": "marketing",
                                             "owner_value": "", "manager": "1"})
    assert r.status_code == 303
    keys = admin.get("/admin/keys")
    r = admin.post("/admin/keys", data={"csrf_token": csrf_of(keys.text), "scope": "read", "name": "bi"})
    key = re.search(r'data-testid="secret">([^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    assert site.client().get("/v1/scores", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    key_id = re.search(r'data-key="([^"]+)"', admin.get("/admin/keys").text)
    listed = admin.get("/admin/keys").text
    new_id = next(k for k in re.findall(r'data-key="([^"]+)"', listed) if key.startswith(k))
    assert key_id is not None
    r = admin.post(f"/admin/keys/{new_id}/revoke", data={"csrf_token": csrf_of(listed)})
    assert r.status_code == 303
    assert site.client().get("/v1/scores", headers={"Authorization": f"Bearer {key}"}).status_code == 401
