"""A small B2B workspace with companies, built through the library as a user would (files, import,
publish): three companies, contacts matched by company_id and by e-mail domain, events, deals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

import leadscore
from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.server import ThreadedServer
from leadscore.workspace import Workspace

AS_OF = datetime(2025, 6, 30)

CONTACT_MODEL = """\
name: b2b
tiers: {cold: 0, nurture: 15, sql: 30}
groups:
  fit:
    rules:
      - {name: exec, when: {property: job_title, in: [CEO, CTO, VP Sales]}, points: 10}
  engagement:
    decay: {half_life_days: 30}
    rules:
      - {name: pricing, when: {event: page_view, where: {url: /pricing}}, points: 10}
      - {name: demo, when: {event: demo_request}, points: 20}
"""

ACCOUNT_MODEL = """\
name: accounts
level: account
tiers: {cold: 0, warm: 20, sales_ready: 45}
roles:
  decision_maker: {property: job_title, in: [CEO, CTO, VP Sales]}
groups:
  fit:
    rules:
      - {name: mid-market, when: {property: employees, between: [50, 1000]}, points: 10}
  people:
    rules:
      - {name: best two, points_from: {model: b2b, aggregate: top_k_mean, k: 2}, factor: 0.5, max: 20}
      - {name: buying group, when: {contacts: {role: decision_maker}, at_least: 2}, points: 10}
  engagement:
    decay: {half_life_days: 30}
    rules:
      - name: pricing by two people
        when: {event: page_view, where: {url: /pricing}, within_days: 30, at_least: 2, count: contacts}
        points: 15
workflows:
  - name: sales-ready account
    on: {enters_tier: sales_ready}
    do:
      - webhook: {url: "http://127.0.0.1:9/hook"}
      - task: {for: owner, title: "Call {{ company.name }}: {{ tier }}"}
"""

COMPANIES = """company_id,name,domain,employees,owner,created_at
acme,Acme,acme.io,200,ann,2025-01-01
globex,Globex,https://www.globex.com,5000,bob,2025-01-01
late,Late Co,late.io,100,ann,2025-07-15
"""

CONTACTS = """contact_id,email,job_title,company_id,created_at
dana,dana@acme.io,CEO,acme,2025-02-01
eli,eli@acme.io,VP Sales,,2025-02-01
fay,fay@acme.io,Engineer,acme,2025-02-01
gus,gus@gmail.com,CEO,,2025-02-01
hal,hal@globex.com,Analyst,globex,2025-02-01
ivy,ivy@acme.io,CTO,acme,2025-08-01
"""

EVENTS = """event_id,contact_id,type,occurred_at,url
e1,dana,page_view,2025-06-25,/pricing
e2,fay,page_view,2025-06-20,/pricing
e3,eli,demo_request,2025-06-28,
e4,hal,page_view,2025-06-01,/blog
e5,ivy,page_view,2025-06-29,/pricing
e6,dana,page_view,2025-07-10,/pricing
"""

DEALS = """deal_id,contact_id,company_id,status,amount,created_at,closed_at
d1,dana,acme,won,5000,2025-07-01,2025-08-15
d2,hal,,lost,100,2025-05-01,2025-06-01
"""


def build(root: Path, *, match_by_domain: bool = True) -> Workspace:
    """The workspace, imported and published (not scored)."""
    ws = leadscore.init(root)
    if match_by_domain:
        settings = ws.root / "leadscore.yml"
        settings.write_text(settings.read_text().replace("match_by_domain: false", "match_by_domain: true"))
        ws = Workspace.load(root)
    data = root / "data"
    data.mkdir()
    for kind, text in (("companies", COMPANIES), ("contacts", CONTACTS), ("events", EVENTS), ("deals", DEALS)):
        (data / f"{kind}.csv").write_text(text)
        leadscore.import_file(kind, data / f"{kind}.csv", workspace=ws)
    (ws.models_dir / "b2b.yml").write_text(CONTACT_MODEL)
    (ws.models_dir / "accounts.yml").write_text(ACCOUNT_MODEL)
    leadscore.publish(ws.models_dir / "b2b.yml", workspace=ws)
    leadscore.publish(ws.models_dir / "accounts.yml", workspace=ws)
    return ws


@contextmanager
def served(ws: Workspace, scope: str = "write") -> Iterator[tuple[httpx.Client, Any]]:
    """A real server over ``ws`` (no worker, no scheduler) on a free port, a client holding a key of
    ``scope``, and the app (``app.state.runtime.reader()`` reads what the server committed)."""
    with leadscore.open_store(ws) as store:
        key = create_key(store, scope, "test")[1]
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30,
                                                     headers={"Authorization": f"Bearer {key}"}) as client:
        yield client, app
