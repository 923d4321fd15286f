"""The account benchmark harness on a small data set: both models run, every company is scored."""

from __future__ import annotations

import math
from pathlib import Path

from leadscore.bench.accounts import BENCH_ACCOUNT_MODEL_YAML, format_account_bench, run_account_bench
from leadscore.demo.generator import generate
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import parse_model


def test_the_bench_account_model_rolls_up_the_bench_model() -> None:
    model = parse_model(BENCH_ACCOUNT_MODEL_YAML, "bench_accounts.yml").model
    assert isinstance(model, AccountModel) and model.contact_models() == ["bench"]


def test_generate_spreads_contacts_over_the_companies_asked_for() -> None:
    data = generate(500, 1_000, seed=2, n_companies=40)
    assert data.companies is not None and data.companies.num_rows == 40
    assert generate(500, 1_000, seed=2).companies.num_rows == 166  # type: ignore[union-attr]


def test_account_bench_runs_both_models_and_scores_every_company(tmp_path: Path) -> None:
    result = run_account_bench(tmp_path, 2_000, 20_000, 150, seed=3, runs=1)
    assert result.scored_contacts == 2_000
    assert result.scored_companies == result.expected_companies == 150
    assert 1_500 < result.members < 2_000  # free-mail contacts without a company id belong to none
    assert math.isfinite(result.ratio) and result.contact_rss_mb > 0 and result.account_rss_mb > 0
    text = format_account_bench(result)
    assert "ratio account / contact" in text and ("PASS" in text or "FAIL" in text)
    assert result.to_dict()["ratio"] == result.ratio
