"""`explain --as-of` reads properties as of that date and names the values it had to assume."""

from __future__ import annotations

from datetime import datetime

from leadscore.engine.explain import explain_with_model
from leadscore.model.loader import parse_model
from leadscore.storage.history import write_properties
from leadscore.storage.store import Store

MODEL = parse_model("""name: m
groups:
  fit:
    rules:
      - {name: customer, when: {property: lifecycle_stage, equals: customer}, points: 50}
      - {name: exec, when: {property: job_title, equals: CEO}, points: 10}
      - {name: free mail, when: {not: {property: is_free_email, equals: false}}, points: -5}
""").model


def test_a_lead_that_became_a_customer_explained_before_and_after() -> None:
    with Store.open(":memory:") as store:
        store.con.execute("INSERT INTO contacts (contact_id, email, job_title, lifecycle_stage, created_at) "
                          "VALUES ('c1', 'ann@acme.io', 'CEO', 'lead', '2025-01-01')")
        write_properties(store.con, "c1", {"lifecycle_stage": "customer"}, source="api",
                         now=datetime(2025, 6, 1), changed_at=datetime(2025, 4, 1))
        before = explain_with_model(store, MODEL, "c1", as_of=datetime(2025, 3, 1))
        after = explain_with_model(store, MODEL, "c1", as_of=datetime(2025, 5, 1))
    assert (before.total, after.total) == (10, 60)  # the customer rule does not see the future
    assumed = {r.name: r.assumed for r in before.rules}
    # as of March, lifecycle_stage is `lead`, assumed (first imported, no change time) as job_title
    # and email are; as of May, lifecycle_stage comes from the dated change
    assert assumed == {"customer": {"lifecycle_stage": "lead"}, "exec": {"job_title": "CEO"},
                       "free mail": {"email": "ann@acme.io"}}
    assert {r.name: r.assumed for r in after.rules}["customer"] == {}


def test_the_worked_example_of_the_model_reference() -> None:
    """docs/model-reference.md "a lead that became a customer": its model and its three scores."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "model-reference.md").read_text(encoding="utf-8")
    section = doc[doc.index("**Worked example: a lead that became a customer.**"):]
    model = parse_model(re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]).model
    with Store.open(":memory:") as store:
        store.con.execute("INSERT INTO contacts (contact_id, job_title, lifecycle_stage, created_at) "
                          "VALUES ('ann', 'CEO', 'lead', '2025-01-01')")
        write_properties(store.con, "ann", {"lifecycle_stage": "customer"}, source="api",
                         now=datetime(2025, 6, 1), changed_at=datetime(2025, 4, 1))
        for day, stage, total in (("2025-03-01", "lead", 10), ("2025-04-01", "customer", 60),
                                  ("2025-05-01", "customer", 60)):
            e = explain_with_model(store, model, "ann", as_of=datetime.fromisoformat(day))
            assert e.total == total
            assert re.search(rf"\| {day} \| `{stage}` \|.*\| \*\*{total}\*\* \|", section), day
        assumed = explain_with_model(store, model, "ann", as_of=datetime(2025, 3, 1))
        assert {r.name: r.assumed for r in assumed.rules} == {"customer": {"lifecycle_stage": "lead"},
                                                               "exec": {"job_title": "CEO"}}
