"""The feedback form of a lead scored by several models asks about the score of the model picked,
and names each model's score, without any script (the page as the server sends it)."""

from __future__ import annotations

import html
import re

from tests.web.conftest import Site, csrf_of

SECOND = """version: 1
name: second
tiers: {low: 0, high: 10}
groups:
  fit:
    rules:
      - {name: ceo, when: {property: job_title, equals: CEO}, points: 77}
"""


def test_the_feedback_form_names_the_score_of_each_model(site: Site) -> None:
    assert site.api().post("/v1/models", json={"text": SECOND}).status_code == 200
    cid, b2b, second = site.store.con.execute(
        """SELECT a.contact_id, a.score, b.score FROM scores a JOIN scores b USING (contact_id)
           WHERE a.model = 'b2b' AND b.model = 'second' AND b.score = 77 AND abs(a.score - 77) > 1
           ORDER BY a.contact_id LIMIT 1""").fetchone()
    boss = site.login("boss")  # a manager: every lead
    page = boss.get(f"/leads/{cid}")
    assert page.status_code == 200
    form = page.text[page.text.index('id="fb-h"'):page.text.index("Send feedback")]
    picker = form[form.index('id="fb-model"'):form.index("</select>")]
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', picker)
    assert [(v, html.unescape(t)) for v, t in options] == [
        ("b2b", f"b2b · score {b2b:.1f}"), ("second", f"second · score {second:.1f}")]
    legend = re.search(r"<legend>(.*?)</legend>", form).group(1)  # type: ignore[union-attr]
    assert f"{b2b:.1f}" not in legend and "model picked" in legend  # not the first model's score for both
    r = boss.post(f"/leads/{cid}/feedback", data={"csrf_token": csrf_of(page.text), "model": "second",
                                                 "verdict": "too_high"})
    assert r.status_code in (200, 303), r.text[:300]
    assert site.store.con.execute("SELECT model, score FROM feedback WHERE contact_id = ?", [cid]).fetchone() == \
        ("second", second)
