"""What a rep may see and do beyond their own leads, over HTTP against the real server: a rep
without an owner value owns no task (not even one nobody owns), and a rep with no leads is told
how to get an owner value without being shown other reps' names or lead counts."""

from __future__ import annotations

from datetime import datetime

from tests.web.conftest import Site, csrf_of


def _ownerless_task(site: Site) -> str:
    """A task whose owner and whose contact's owner are both empty (a workflow on an unassigned lead)."""
    def job(ctx: object) -> None:
        con = ctx.store.con  # type: ignore[attr-defined]
        con.execute("INSERT INTO contacts (contact_id, email, first_name, created_at) VALUES "
                    "('c_nobody', 'nobody@example.com', 'Nobody', ?)", [datetime(2026, 1, 1)])
        con.execute("INSERT INTO tasks (task_id, contact_id, owner, title, status, created_at) VALUES "
                    "('t_nobody', 'c_nobody', NULL, 'call them', 'open', ?)", [datetime(2026, 1, 2)])

    site.runtime.write(job).result()
    return "t_nobody"


def test_a_rep_without_an_owner_value_cannot_close_a_task_nobody_owns(site: Site) -> None:
    task = _ownerless_task(site)
    newbie = site.login("newbie")  # a rep with no owner value
    token = csrf_of(newbie.get("/leads").text)
    r = newbie.post(f"/tasks/{task}/done", data={"csrf_token": token})
    assert r.status_code == 404 and "among your tasks" in r.text
    assert site.store.con.execute("SELECT status FROM tasks WHERE task_id = ?", [task]).fetchone()[0] == "open"
    dana = site.login("dana")  # a rep with an owner value: not theirs either
    r = dana.post(f"/tasks/{task}/done", data={"csrf_token": csrf_of(dana.get("/leads").text)})
    assert r.status_code == 404
    boss = site.login("boss")  # a manager sees every lead's tasks, and may close it
    r = boss.post(f"/tasks/{task}/done", data={"csrf_token": csrf_of(boss.get("/leads").text)})
    assert r.status_code == 303
    assert site.store.con.execute("SELECT status FROM tasks WHERE task_id = ?", [task]).fetchone()[0] == "done"


def test_a_rep_with_no_leads_is_told_how_to_get_them_without_other_reps_names(site: Site) -> None:
    from leadscore.users import create_user

    site.runtime.write(lambda ctx: create_user(ctx.store, "lost", "rep", owner_value="Nobody Here",
                                               password="lost-password-1")).result()
    others = [r[0] for r in site.store.con.execute(
        "SELECT DISTINCT owner FROM contacts WHERE owner IS NOT NULL").fetchall()]
    assert "Dana Reyes" in others
    for name, password in (("lost", "lost-password-1"), ("newbie", None)):
        text = site.login(name, password).get("/leads").text
        assert "owner value" in text and "Users page" in text, name
        assert not [o for o in others if o in text], name  # neither names nor counts of other owners
    assert "Dana Reyes" in site.login("admin").get("/admin/users").text  # an admin sees the values to link
