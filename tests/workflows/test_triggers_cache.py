"""A workflow's `if:` is compiled once per condition and store columns, not on every rescore."""

from __future__ import annotations

from typing import Any

import pytest
from tests.workflows.helpers import MakeWs, fired, hook, rescore, set_props

from leadscore.model.spec import ScoringModel
from leadscore.workflows import triggers

SAAS = "    if: {property: industry, equals: SaaS}\n"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the models the trigger module compiles, from an empty cache on."""
    calls: list[str] = []
    real = triggers.compile_model

    def counting(model: ScoringModel, **kwargs: Any) -> Any:
        calls.append(model.name)
        return real(model, **kwargs)

    monkeypatch.setattr(triggers, "_CONDITION_SQL", {})
    monkeypatch.setattr(triggers, "compile_model", counting)
    return calls


def test_real_time_rescores_compile_the_condition_once(make_ws: MakeWs, compiles: list[str]) -> None:
    ws = make_ws("workflows:\n" + hook("saas", "{enters_tier: warm}", SAAS))
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)  # SaaS: crosses and passes `if:`
        rescore(store, ws, "k1")
        set_props(store, "k2", company_size=500)  # Retail: crosses, fails `if:`
        rescore(store, ws, "k2")
        set_props(store, "k3", company_size=500)  # SaaS
        rescore(store, ws, "k3")
        assert fired(store, "saas") == ["k1", "k3"]  # the same answers as compiling each time
        assert compiles == ["condition"]


def test_a_new_contact_column_compiles_again(make_ws: MakeWs, compiles: list[str]) -> None:
    ws = make_ws("workflows:\n" + hook("saas", "{enters_tier: warm}", SAAS))
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        assert compiles == ["condition"]
        # what an import of a file with a new column does: a custom property appears
        store.con.execute("ALTER TABLE contacts ADD COLUMN favourite_colour VARCHAR")
        set_props(store, "k3", company_size=500, favourite_colour="teal")
        rescore(store, ws, "k3")
        assert compiles == ["condition", "condition"]
        set_props(store, "k2", company_size=500)
        rescore(store, ws, "k2")
        assert compiles == ["condition", "condition"]  # and that one is cached in turn
        assert fired(store, "saas") == ["k1", "k3"]


def test_the_key_is_the_condition_not_the_workflow(make_ws: MakeWs, compiles: list[str]) -> None:
    """Two workflows with the same `if:` share one compile; a different `if:` has its own."""
    retail = "    if: {property: industry, equals: Retail}\n"
    ws = make_ws("workflows:\n" + hook("a", "{enters_tier: warm}", SAAS) + hook("b", "{score_above: 10}", SAAS)
                 + hook("c", "{enters_tier: warm}", retail))
    with ws.open_store() as store:
        for cid in ("k1", "k2"):
            set_props(store, cid, company_size=500)
        rescore(store, ws, "k1", "k2")
        assert (fired(store, "a"), fired(store, "b"), fired(store, "c")) == (["k1"], ["k1"], ["k2"])
        assert compiles == ["condition", "condition"]


def test_a_whole_base_pass_is_not_cached(make_ws: MakeWs, compiles: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Past RESTRICT_LIMIT the SQL carries the as-of as a literal: it is compiled for that run."""
    monkeypatch.setattr(triggers, "RESTRICT_LIMIT", 0)
    ws = make_ws("workflows:\n" + hook("saas", "{enters_tier: warm}", SAAS))
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        set_props(store, "k3", company_size=500)
        rescore(store, ws, "k3")
        assert fired(store, "saas") == ["k1", "k3"]
        assert len(compiles) == 2 and not triggers._CONDITION_SQL
