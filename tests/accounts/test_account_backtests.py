"""Backtests, reports and their refusals for account models: conversion = a won deal of the company
in the horizon (its own company_id, else its contact's company)."""

from __future__ import annotations

from pathlib import Path

import pytest

import leadscore
from leadscore.errors import LeadscoreError, ModelError
from leadscore.workspace import Workspace

from .helpers import AS_OF, build


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return build(tmp_path / "ws")


def test_a_company_converts_by_its_won_deal_in_the_horizon(ws: Workspace) -> None:
    run = leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, horizon="90d")
    r = run.result
    # acme and globex exist at the as-of (`late` comes later); acme's deal d1 is won 46 days after
    assert r.level == "account" and r.contacts == 2 and r.converters == 1 and r.auc == 1.0
    by_tier = {t.name: t for t in r.tiers}
    assert by_tier["sales_ready"].converters == 1 and by_tier["sales_ready"].avg_days_to_close == 46
    assert by_tier["sales_ready"].avg_deal_value == 5000 and by_tier["cold"].contacts == 1
    assert leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, horizon="30d").result.converters == 0


def test_a_deal_without_company_id_counts_for_its_contacts_company(ws: Workspace, tmp_path: Path) -> None:
    deals = tmp_path / "more.csv"
    deals.write_text("deal_id,contact_id,status,amount,created_at,closed_at\n"
                     "d3,hal,won,700,2025-07-01,2025-07-20\n"  # globex's analyst: globex converts
                     "d4,gus,won,900,2025-07-01,2025-07-20\n")  # gmail, no company: nobody's
    leadscore.import_file("deals", deals, workspace=ws)
    r = leadscore.backtest("accounts", workspace=ws, as_of=AS_OF).result
    assert r.contacts == 2 and r.converters == 2
    # as of a date after hal's win, globex is a customer already and leaves the population
    later = leadscore.backtest("accounts", workspace=ws, as_of=AS_OF.replace(month=7, day=25)).result
    assert later.contacts == 2 and later.converters == 1  # acme, and `late` which now exists


def test_report_of_an_account_model_and_what_is_refused(ws: Workspace) -> None:
    leadscore.score(workspace=ws, as_of=AS_OF)
    report = leadscore.report(workspace=ws, model="accounts", as_of=AS_OF, rolling=2)
    assert report.backtest.level == "account" and report.distribution.tier_counts["sales_ready"] == 1
    assert "stored scores" in report.distribution.source
    assert [r.points for r in report.rules][1].startswith("0.5 × top_k_mean k=2 of b2b")
    with pytest.raises(LeadscoreError, match="won deals per company"):
        leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, label="converted")
    with pytest.raises(LeadscoreError, match="one scores companies"):
        leadscore.backtest("accounts", workspace=ws, as_of=AS_OF, vs="b2b")
    with pytest.raises(ModelError, match="account model"):
        leadscore.suggest("accounts", workspace=ws, as_of=AS_OF)
    # without a name, the only contact model is the default
    assert leadscore.backtest(workspace=ws, as_of=AS_OF).result.level == "contact"
