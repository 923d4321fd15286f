"""Predictive scoring of companies (``train --level account``) on a generated workspace whose won
deals depend on a planted signal: the pricing pages its contacts read.

The world: ``N_COMPANIES`` companies with 1-6 contacts each; a third of the companies are "hot":
their contacts read pricing pages every few days, and a hot company wins a deal in a 30-day step
with a much higher chance than a cold one, whose contacts read blog posts as often. Industry is
noise. Half of the deals name their company (``deals.company_id``; their contact is in none),
half only their contact, so
both ways a deal finds its company are exercised.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import leadscore
from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.server import ThreadedServer
from leadscore.cli.main import app as cli_app
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.predictive.account_features import plan_account_features, raw_account_features
from leadscore.predictive.accounts import train_account_model
from leadscore.predictive.artefact import load_predictive_model, predictive_names
from leadscore.predictive.leakage import LeakageSuspected
from leadscore.predictive.predict import predict_contacts
from leadscore.predictive.train import TrainingRefused
from leadscore.storage.history import COMPANIES, write_properties
from leadscore.storage.store import Store
from leadscore.workspace import Workspace, init_workspace

N_COMPANIES = 1500
START = datetime(2024, 1, 1)
END = datetime(2025, 7, 1)
UNTIL = END
CUTOFF = datetime(2025, 3, 1)
EARLY = datetime(2024, 6, 1)
INDUSTRIES = ("software", "retail", "health", "finance", "energy")


def _world(seed: int = 7) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    companies, contacts, events, deals = [], [], [], []
    days = (END - START).days
    for i in range(N_COMPANIES):
        cid = f"k{i:05d}"
        hot = rng.random() < 1 / 3
        companies.append({"company_id": cid, "name": f"Company {i}", "domain": f"company{i}.com",
                          "industry": str(rng.choice(INDUSTRIES)), "employees": int(rng.integers(5, 5000)),
                          "crm_number": 100000 + i, "created_at": START})
        members = [f"{cid}-p{j}" for j in range(int(rng.integers(1, 7)))]
        for m in members:
            contacts.append({"contact_id": m, "email": f"{m}@company{i}.com", "company_id": cid,
                             "job_title": "manager", "created_at": START})
            kind = "pricing_view" if hot else "blog_view"
            for d in np.sort(rng.integers(0, days, int(rng.integers(days // 40, days // 15)))):
                events.append({"event_id": f"{m}-{d}-{len(events)}", "contact_id": m, "type": kind,
                               "occurred_at": START + timedelta(days=int(d), hours=9)})
        for step in range(days // 30):  # at most one win; a customer buys no more here
            if rng.random() < (0.08 if hot else 0.003):
                won = START + timedelta(days=30 * step + int(rng.integers(0, 30)))
                by_company = rng.random() < 0.5
                # the buyer is a contact outside any company when the deal names its company
                deals.append({"deal_id": f"d-{cid}", "contact_id": "buyer" if by_company else members[0],
                              "company_id": cid if by_company else None, "status": "won", "amount": 1000.0,
                              "created_at": won - timedelta(days=20), "closed_at": won})
                break
    return {"companies": pa.Table.from_pylist(companies), "contacts": pa.Table.from_pylist(contacts),
            "events": pa.Table.from_pylist(events), "deals": pa.Table.from_pylist(deals)}


def _load(store: Store, tables: dict[str, pa.Table]) -> None:
    with store.transaction() as con:
        con.execute("ALTER TABLE companies ADD COLUMN crm_number BIGINT")
        for name, table in tables.items():
            con.register("_rows", table)
            cols = ", ".join(table.column_names)
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _rows")
            con.unregister("_rows")


CONTACT_MODEL = """name: b2b
tiers: {cold: 0, warm: 20}
groups:
  engagement:
    decay: {half_life_days: 30}
    rules:
      - {name: pricing, when: {event: pricing_view}, points: 10}
"""

ACCOUNT_MODEL = """name: accounts
level: account
tiers: {cold: 0, warm: 10}
groups:
  engagement:
    rules:
      - {name: pricing, when: {event: pricing_view, within_days: 30}, points: 10}
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The world, with a contact rule model (its scores are rolled up per company) and an account
    rule model (for the account tools that show a prediction beside the rule score)."""
    ws = init_workspace(tmp_path_factory.mktemp("accounts_predict") / "template")
    with ws.open_store() as store:
        _load(store, _world())
    for name, text in (("b2b", CONTACT_MODEL), ("accounts", ACCOUNT_MODEL)):
        (ws.models_dir / f"{name}.yml").write_text(text)
        leadscore.publish(ws.models_dir / f"{name}.yml", workspace=ws)
    return ws


@pytest.fixture
def ws(template: Workspace, tmp_path: Path) -> Workspace:
    shutil.copytree(template.root, tmp_path / "ws")
    return Workspace.load(tmp_path / "ws")


def _artefact(store: Store, name: str, version: int) -> tuple[str, str | None]:
    row = store.con.execute("SELECT spec, booster FROM predictive_models WHERE name = ? AND version = ?",
                            [name, version]).fetchone()
    assert row is not None
    return row[0], row[1]


def test_training_finds_the_planted_signal(ws: Workspace) -> None:
    with ws.open_store() as store:
        result = train_account_model(store, until=UNTIL)
        m = result.model
        assert m.level == "account" and m.name == "account_likelihood" and m.label == "won"
        assert m.metrics["validation"] == "newest cut-off" and len(m.cutoffs) == 4
        assert m.metrics["auc"] > 0.75, m.metrics  # the signal is strong; a coin toss is 0.5
        assert m.metrics["ece"] < 0.05
        top = [name for name, _ in m.metrics["top_features"][:3]]
        assert any("pricing view" in name or "b2b" in name for name in top), top
        # the contact rule model's scores, rolled up per company as of each cut-off
        assert {"a:r:b2b:sum", "a:r:b2b:max"} <= {f.name for f in m.plan.features}
        # identifiers are never features: ids, names, domains, and a number unique per company
        assert "crm_number" in m.metrics["identifiers"]
        names = {f.name for f in m.plan.features}
        assert not names & {"p:company_id", "p:name", "p:domain", "p:crm_number", "p:updated_at"}
        # no company change is recorded before the cut-offs: the warning says industry is read as imported
        assert any("company properties have no recorded change" in w and "industry" in w for w in result.warnings)
        # the held-out rows are companies, measured with cross-fitted probabilities
        held = store.con.execute("SELECT count(*), count(*) FILTER (WHERE contact_id LIKE 'k%') FROM "
                                 "predictive_holdout WHERE name = 'account_likelihood'").fetchone()
        assert held is not None and held[0] == held[1] == m.metrics["validation_rows"]
        # a contact run never loads a model of companies
        assert predictive_names(store) == [] and predictive_names(store, "account") == ["account_likelihood"]
        with pytest.raises(NotFoundError, match="no predictive model of contacts"):
            predict_contacts(store)
        with pytest.raises(NotFoundError, match="model of accounts"):
            load_predictive_model(store, "account_likelihood")


def test_label_is_a_won_deal_of_the_company_by_its_id_or_its_contacts(ws: Workspace) -> None:
    with ws.open_store() as store:
        from leadscore.predictive.accounts import won_company_labels

        ids = pa.array(["k00000", "k00001", "k00002"])
        store.con.execute("DELETE FROM deals WHERE deal_id IN ('d-k00000', 'd-k00001', 'd-k00002')")
        store.con.execute("INSERT INTO deals (deal_id, contact_id, company_id, status, created_at, closed_at) VALUES "
                          "('x1', 'buyer', 'k00000', 'won', '2025-03-01', '2025-03-10'), "
                          "('x2', 'k00001-p0', NULL, 'won', '2025-03-01', '2025-03-10'), "
                          "('x3', 'buyer', 'k00002', 'won', '2025-01-01', '2025-02-10'), "
                          "('x4', 'buyer', 'k00002', 'lost', '2025-03-01', '2025-03-10')")
        won, before = won_company_labels(store, ids, CUTOFF, 90)
    assert won.tolist() == [True, True, False] and before.tolist() == [False, False, True]


def test_features_at_a_cutoff_ignore_a_planted_future(ws: Workspace) -> None:
    with ws.open_store() as store:
        plan = plan_account_features(store, until=CUTOFF)
        before = raw_account_features(store, plan, CUTOFF)
        first = train_account_model(store, until=UNTIL, cutoffs=[datetime(2024, 11, 1), CUTOFF], min_positives=50)
        cold = [r[0] for r in store.con.execute(
            "SELECT DISTINCT c.company_id FROM contacts c JOIN events e USING (contact_id) "
            "WHERE e.type = 'blog_view' ORDER BY 1 LIMIT 200").fetchall()]
        with store.transaction() as con:
            for i, company in enumerate(cold):  # pricing reads and wins the moment after the cut-off
                for k in range(5):
                    con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, ?)",
                                [f"future-{i}-{k}", f"{company}-p0", "pricing_view",
                                 UNTIL + timedelta(hours=1 + k)])
                con.execute("INSERT INTO deals (deal_id, contact_id, company_id, status, created_at, closed_at) "
                            "VALUES (?, 'buyer', ?, 'won', ?, ?)",
                            [f"future-{i}", company, UNTIL, UNTIL + timedelta(days=2)])
            con.execute("INSERT INTO companies (company_id, name, industry, created_at) VALUES "
                        "('late', 'Late Ltd', 'software', ?)", [UNTIL + timedelta(days=1)])
            con.execute("INSERT INTO contacts (contact_id, company_id, created_at) VALUES ('late-p0', 'k00003', ?)",
                        [UNTIL + timedelta(days=1)])
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES "
                        "('late-1', 'k00003-p0', 'brand_new_type', ?)", [UNTIL + timedelta(days=2)])
            # the CRM after the cut-off: a won company's industry rewritten, a contact moving company
            moved = UNTIL + timedelta(days=3)
            for company in cold[:50]:
                write_properties(con, company, {"industry": "finance" if company[-1] in "02468" else "energy"},
                                 source="test", now=moved, changed_at=moved, level=COMPANIES)
            write_properties(con, "k00001-p0", {"company_id": "k00002"}, source="test", now=moved, changed_at=moved)
        assert plan_account_features(store, until=CUTOFF).to_json() == plan.to_json()
        after = raw_account_features(store, plan, CUTOFF)
        differ = [c for c in before.column_names if not after[c].equals(before[c])]
        assert not differ and "late" not in after["company_id"].to_pylist()
        later = raw_account_features(store, plan, UNTIL + timedelta(days=1))  # the planted events are real
        ids = later["company_id"].to_pylist()
        assert later["a:e:pricing_view:n30"][ids.index(cold[0])].as_py() >= 5
        second = train_account_model(store, until=UNTIL, cutoffs=[datetime(2024, 11, 1), CUTOFF], min_positives=50)
        assert second.model.version == first.model.version + 1
        assert _artefact(store, "account_likelihood", 1) == _artefact(store, "account_likelihood", 2)


def test_refusals_below_the_minimum_and_on_a_leaking_column(ws: Workspace) -> None:
    with ws.open_store() as store:
        with pytest.raises(TrainingRefused, match=r"only \d+ companies won a deal .* at least 100000"):
            train_account_model(store, until=UNTIL, min_positives=100_000)
        # a column sales set when the summer deals were won leaks the answer of the June cut-off
        store.con.execute("ALTER TABLE companies ADD COLUMN customer_tier VARCHAR")
        store.con.execute("UPDATE companies SET customer_tier = CASE WHEN company_id IN (SELECT coalesce(d.company_id, "
                          "c.company_id) FROM deals d LEFT JOIN contacts c USING (contact_id) WHERE d.closed_at "
                          ">= ? AND d.closed_at < ?) THEN 'gold' ELSE 'none' END", [EARLY, EARLY + timedelta(days=90)])
        summer = {"until": UNTIL, "cutoffs": [EARLY], "min_positives": 30}
        with pytest.raises(LeakageSuspected, match="customer tier .*--exclude customer_tier"):
            train_account_model(store, **summer)  # type: ignore[arg-type]
        leaky = train_account_model(store, accept_leaky=True, **summer)  # type: ignore[arg-type]
        assert leaky.model.metrics["leakage"] and "accept-leaky" in leaky.warnings[-1]
        clean = train_account_model(store, exclude={"Customer Tier"}, **summer)  # type: ignore[arg-type]
        assert "customer_tier" in clean.model.metrics["excluded"]
        with pytest.raises(LeadscoreError, match="no company column of that name"):
            train_account_model(store, until=UNTIL, exclude={"job_title"})
        with pytest.raises(LeadscoreError, match="already a predictive model of accounts"):
            from leadscore.predictive.train import train_model

            train_model(store, name="account_likelihood", until=UNTIL, min_positives=1)


def test_a_yes_no_company_property_as_label(ws: Workspace) -> None:
    with ws.open_store() as store:
        store.con.execute("ALTER TABLE companies ADD COLUMN is_customer VARCHAR")
        store.con.execute("UPDATE companies SET is_customer = CASE WHEN company_id LIKE '%7' THEN NULL "
                          "WHEN company_id IN (SELECT company_id FROM deals) THEN 'yes' ELSE 'no' END")
        m = train_account_model(store, label="Is Customer", until=UNTIL, min_positives=50).model
        assert m.label == "is_customer" and m.horizon_days is None
        assert m.metrics["validation"].startswith("seeded random")
        assert "p:is_customer" not in {f.name for f in m.plan.features}
        assert m.metrics["training_rows"] + m.metrics["validation_rows"] == N_COMPANIES - N_COMPANIES // 10


def _cli(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(cli_app, [*args, "--workspace", str(ws.root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_train_predict_explain_top_export_models(ws: Workspace, tmp_path: Path) -> None:
    out = json.loads(_cli(ws, "train", "--level", "account", "--as-of", "2025-07-01", "--json"))
    assert out["level"] == "account" and out["metrics"]["auc"] > 0.75
    predicted = json.loads(_cli(ws, "predict", "--level", "account", "--as-of", "2025-03-01", "--json"))
    assert predicted["level"] == "account" and predicted["contacts"] == N_COMPANIES
    assert sum(predicted["priority_counts"].values()) == N_COMPANIES
    with leadscore.open_store(ws) as store:
        hot = store.con.execute("SELECT avg(probability) FROM account_predictions p WHERE EXISTS (SELECT 1 FROM "
                                "events e JOIN contacts c USING (contact_id) WHERE c.company_id = p.company_id "
                                "AND e.type = 'pricing_view')").fetchone()
        cold = store.con.execute("SELECT avg(probability) FROM account_predictions p WHERE NOT EXISTS (SELECT 1 "
                                 "FROM events e JOIN contacts c USING (contact_id) WHERE c.company_id = p.company_id "
                                 "AND e.type = 'pricing_view')").fetchone()
        best = store.con.execute("SELECT company_id FROM account_predictions ORDER BY probability DESC LIMIT 1"
                                 ).fetchone()
        assert store.con.execute("SELECT count(*) FROM predictions").fetchone() == (0,)  # no contact rows
    assert hot and cold and best and hot[0] > 3 * cold[0]
    text = _cli(ws, "predict", "--level", "account", "--as-of", "2025-03-01")
    assert "1,500 companies predicted" in text and "why" in text
    target = tmp_path / "p.csv"
    _cli(ws, "export", "predictions", "--level", "account", "--out", str(target))
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == N_COMPANIES and rows[0]["company_id"] == best[0]
    assert rows[0]["priority"] == "very high" and json.loads(rows[0]["reasons"])["positive"]
    cards = [m for m in json.loads(_cli(ws, "models", "--json")) if m["kind"] == "predictive"]
    assert [(m["model"], m["level"]) for m in cards] == [("account_likelihood", "account")]
    assert cards[0]["metrics"]["auc"] == out["metrics"]["auc"]
    result = CliRunner().invoke(cli_app, ["predict", "--workspace", str(ws.root)])
    assert result.exit_code != 0 and "no predictive model of contacts" in str(result.exception)


@pytest.fixture
def predicted(ws: Workspace) -> tuple[Workspace, dict[str, tuple[float, str]], str]:
    """The workspace trained, scored and predicted at the level of companies; with each company's
    (probability, priority) as stored, and the company with the highest probability."""
    train = leadscore.train(workspace=ws, level="account", until=UNTIL)
    assert train.model.level == "account"
    leadscore.score(workspace=ws, as_of=CUTOFF)  # the account rule model's scores
    leadscore.predict(workspace=ws, level="account", as_of=CUTOFF)
    with leadscore.open_store(ws, read_only=True) as store:
        rows = store.con.execute("SELECT company_id, probability, priority FROM account_predictions "
                                 "ORDER BY probability DESC, company_id").fetchall()
    return ws, {r[0]: (float(r[1]), r[2]) for r in rows}, rows[0][0]


@pytest.fixture
def served(predicted: tuple[Workspace, dict[str, tuple[float, str]], str]
           ) -> Iterator[tuple[httpx.Client, dict[str, tuple[float, str]], str]]:
    ws, stored, best = predicted
    with leadscore.open_store(ws) as store:
        key = create_key(store, "read", "test")[1]
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30,
                                                     headers={"Authorization": f"Bearer {key}"}) as client:
        yield client, stored, best


def test_api_company_shows_its_prediction(served: tuple[httpx.Client, dict[str, tuple[float, str]], str]) -> None:
    client, stored, best = served
    body = client.get(f"/v1/companies/{best}").json()
    p = body["predictions"][0]
    assert p["model"] == "account_likelihood" and p["probability"] == pytest.approx(stored[best][0])
    assert p["priority"] == stored[best][1] == "very high" and p["positive"] and isinstance(p["negative"], list)


def test_api_account_scores_carry_probability_and_priority(
        served: tuple[httpx.Client, dict[str, tuple[float, str]], str]) -> None:
    client, stored, _ = served
    page = client.get("/v1/accounts/scores", params={"limit": 50}).json()
    assert page["model"] == "accounts" and len(page["items"]) == 50
    for item in page["items"]:
        assert (item["probability"], item["priority"]) == (pytest.approx(stored[item["company_id"]][0]),
                                                           stored[item["company_id"]][1])


def test_explain_and_top_show_the_account_prediction(
        predicted: tuple[Workspace, dict[str, tuple[float, str]], str]) -> None:
    ws, stored, best = predicted
    e = leadscore.explain(best, workspace=ws, level="account")
    assert e.predictions[0]["probability"] == pytest.approx(stored[best][0])  # type: ignore[union-attr]
    text = " ".join(_cli(ws, "explain", best, "--level", "account").split())  # unwrapped
    assert "predicted priority very high" in text and f"{stored[best][0]:.1%} likely to win a deal" in text
    top = _cli(ws, "top", "--level", "account", "-n", "3")
    assert top.splitlines()[1].count("┃") == 10  # nine columns: priority and probability beside the tier
    listed = json.loads(_cli(ws, "top", "--level", "account", "-n", "3", "--json"))
    assert all(r["priority"] == stored[r["company_id"]][1] for r in listed)
    rows = leadscore.top_accounts(workspace=ws, n=5)
    assert all((r.probability, r.priority) == (pytest.approx(stored[r.company_id][0]), stored[r.company_id][1])
               for r in rows)
