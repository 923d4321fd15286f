"""Fuzzed model files through validate, preview, publish and score: 0 crashes, 0 published models
that break scoring.

The texts come from hypothesis: valid generated models (``tests/strategies.model_dicts``, the
differential test's), the same with keys dropped, renamed or given junk values, text-level damage
(``tests/model/test_mutations``: lines deleted, duplicated, truncated, junk characters inserted),
and some large ones (hundreds of rules in a group). Each goes through what the CLI and API do:
parse and validate against a real store (``ModelError`` is the only allowed failure), the engine
check, then for the valid ones a preview on a lead, publish, and a score run of that model. At
the end every published model is scored together.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from datetime import datetime
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.model.test_mutations import damaged, mutated
from tests.reliability.common import Figures
from tests.strategies import model_dicts

from leadscore.engine.limits import check_runnable
from leadscore.engine.preview import preview_contacts
from leadscore.engine.run import publish
from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.model.validate import validate_against_store
from leadscore.scoring import score_all
from leadscore.storage.store import Store


@st.composite
def _big(draw: st.DrawFn) -> str:
    rules = draw(st.integers(100, 300))
    lines = "\n".join(f"      - {{name: r{i}, when: {{property: company_size, gte: {i}}}, points: 1}}"
                      for i in range(rules))
    return f"version: 1\nname: big\ngroups:\n  fit:\n    rules:\n{lines}\n"


_VALID = model_dicts().map(lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True))
#: one large model in 40 (compiling hundreds of rules takes a second or two)
AS_OF = datetime(2026, 1, 1)
#: the texts
TEXTS = st.sampled_from([_VALID] * 13 + [mutated()] * 12 + [damaged()] * 10 + [st.text(max_size=200)] * 4
                        + [_big()]).flatmap(lambda strategy: strategy)


def _store(path: Path) -> Store:
    from leadscore.demo.generator import generate, load_into_store

    store = Store.open(path)
    load_into_store(store, generate(60, 800, seed=3))
    store.con.execute("ALTER TABLE contacts ADD COLUMN IF NOT EXISTS is_customer BOOLEAN")
    return store


def run_fuzz_models(workdir: Path, *, examples: int = 10_000, seed: int = 1) -> Figures:
    fig = Figures(f"fuzzed model files: {examples:,} through validate / preview / publish / score",
                  "make reliability (tests/reliability/fuzz_models.py)")
    outcomes: Counter[str] = Counter()
    crashes: list[str] = []
    store = _store(workdir / "fuzz-models.duckdb")
    ids = [r[0] for r in store.con.execute("SELECT contact_id FROM contacts ORDER BY 1 LIMIT 1").fetchall()]
    published: set[str] = set()
    broken: list[str] = []
    started = time.perf_counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(text=TEXTS)
    def one(text: str) -> None:
        try:
            loaded = parse_model(text, "fuzz.yml", environment=False)
            validate_against_store(loaded, store)
            check_runnable(store, loaded)
        except ModelError:
            outcomes["refused with a ModelError"] += 1
            return
        except Exception:  # noqa: BLE001 - a crash is the finding
            crashes.append(f"validate: {traceback.format_exc(limit=3)}\n{text[:300]}")
            return
        try:
            preview_contacts(store, loaded, ids[:1])
            version = publish(store, loaded, "fuzz.yml")
            published.add(version.model)
            runs = score_all(store, as_of=AS_OF, models=[version.model])
            if runs.failures:
                broken.append(f"{runs.failures}\n{text[:300]}")
            outcomes["valid: previewed, published, scored"] += 1
        except Exception:  # noqa: BLE001
            crashes.append(f"valid model failed: {traceback.format_exc(limit=3)}\n{text[:300]}")

    import random

    random.seed(seed)
    one()
    try:
        everything = score_all(store, as_of=AS_OF)
        broken.extend(str(f) for f in everything.failures)
    except Exception:  # noqa: BLE001
        crashes.append(f"scoring every published model: {traceback.format_exc(limit=3)}")
    store.close()
    fig.figures = {"texts": sum(outcomes.values()) + len(crashes), **dict(outcomes), "crashes": len(crashes),
                   "published models": len(published),
                   "published models that break scoring": len(broken),
                   "seconds": round(time.perf_counter() - started)}
    if crashes:
        fig.figures["first crash"] = crashes[0][:800]
    fig.require(not crashes, f"{len(crashes)} crashes")
    fig.require(not broken, f"{len(broken)} published models that break scoring")
    if broken:
        fig.figures["first broken"] = broken[0][:800]
    return fig


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_fuzz_models(Path(tmp), examples=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
                        .lines()), flush=True)
