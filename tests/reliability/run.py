"""``make reliability`` / ``make reliability-quick``: every scenario, its figures, and a status.

    python -m tests.reliability.run            # the full suite (~45 min on 2 cores)
    python -m tests.reliability.run --quick    # the same scenarios, small (~3 min; also in `make test`)
    python -m tests.reliability.run --only load,security

Exit status 1 when any scenario's requirement failed. The figures of a full run go into
docs/reliability.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.common import Figures


@dataclass(frozen=True)
class Sizes:
    load_seconds: float
    load_contacts: int
    load_events: int
    kills_each: int
    outage_minutes: float
    models: int
    requests: int
    csv_files: int
    security_cases: int
    latency_required: bool


FULL = Sizes(60, 20_000, 500_000, 26, 10, 10_000, 10_000, 1_000, 3, True)
QUICK = Sizes(4, 3_000, 60_000, 3, 1, 150, 400, 40, 1, False)


def scenarios(sizes: Sizes) -> dict[str, Callable[[Path], list[Figures]]]:
    from tests.reliability.faults import run_faults
    from tests.reliability.fuzz_api import run_fuzz_api
    from tests.reliability.fuzz_csv import run_fuzz_csv
    from tests.reliability.fuzz_models import run_fuzz_models
    from tests.reliability.load import run_load
    from tests.reliability.outage import run_outage
    from tests.reliability.security import run_security

    return {
        "load": lambda w: run_load(w, seconds=sizes.load_seconds, contacts=sizes.load_contacts,
                                   events=sizes.load_events, latency_required=sizes.latency_required),
        "faults": lambda w: [run_faults(w, kills_each=sizes.kills_each)],
        "outage": lambda w: [run_outage(w, outage_minutes=sizes.outage_minutes)],
        "models": lambda w: [run_fuzz_models(w, examples=sizes.models)],
        "api": lambda w: [run_fuzz_api(w, requests=sizes.requests)],
        "csv": lambda w: [run_fuzz_csv(w, files=sizes.csv_files)],
        "security": lambda w: [run_security(w, cases_per_route=sizes.security_cases)],
    }


def run(sizes: Sizes, only: list[str] | None = None, out: Callable[[str], None] = print) -> list[Figures]:
    """Run the chosen scenarios in fresh temporary directories, printing each one's figures."""
    results: list[Figures] = []
    out(f"leadscore reliability suite, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{_cores()} cores, Python {platform.python_version()}")
    for name, scenario in scenarios(sizes).items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"leadscore-{name}-") as tmp:
            try:
                figures = scenario(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - reported as the scenario's failure
                failed = Figures(name, "")
                failed.require(False, f"{type(exc).__name__}: {exc}")
                figures = [failed]
        for f in figures:
            out("\n".join(f.lines()))
        out(f"   ({name}: {time.perf_counter() - started:.0f} s)")
        results += figures
    bad = [f.name for f in results if f.failures]
    out("== all scenarios held" if not bad else f"== FAILED: {', '.join(bad)}")
    return results


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (what `make test` runs)")
    parser.add_argument("--only", help="comma-separated: " + ", ".join(scenarios(QUICK)))
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.only.split(",") if args.only else None,
                  lambda line: print(line, flush=True))
    return 1 if any(f.failures for f in results) else 0


if __name__ == "__main__":
    sys.exit(main())
