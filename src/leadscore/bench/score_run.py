"""The score benchmark's scoring process: ``python -m leadscore.bench.score_run WORKSPACE AS_OF [--export F]``.

Why a separate process: the requirement bounds the peak memory of a scoring run, and the only
clean way to read one run's peak RSS is to run it alone in a child, which reads its own peak
(``measure.peak_rss_mb``). The parent (``score.run_bench``) holds the generated data and its own
DuckDB buffers, which must not count.

It times the library call that ``leadscore score`` makes, ``leadscore.library.score(workspace=...,
as_of=...)``: every published model over the whole base, history and crossings, the workflow hook,
the settling of workflow ``set`` actions and the check for a predictive model to refresh, with
the store opened and closed by the call as the command does. The modules the call imports are
imported before the clock starts (the "import" phase): module loading is start-up cost, which
``python -X importtime`` measures, not scoring. It prints one JSON line with the timings; with
``--export`` it then (untimed) writes ``contact_id, score, tier, g_0..`` to Parquet for the
parent to compare with the hand-written query.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from leadscore.bench.measure import cpu_seconds, peak_rss_mb


def _import_the_scoring_path() -> None:
    """Import what ``library.score`` imports inside itself, before the clock starts.

    The library and the CLI import their heavy parts inside functions (so ``leadscore --help``
    starts fast); a ``leadscore score`` process pays that once, like Python's own start-up, and
    ``python -X importtime`` is what measures it. The benchmark times the scoring.
    """
    import leadscore.predictive.artefact  # noqa: F401  (refreshing predictions, when trained)
    import leadscore.predictive.predict  # noqa: F401
    import leadscore.scoring  # noqa: F401  (engine, compiler, workflow hook)
    import leadscore.workflows.outbox  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadscore.bench.score_run")
    parser.add_argument("workspace")
    parser.add_argument("as_of", help="ISO timestamp, naive UTC")
    parser.add_argument("--export", help="write the scores to this Parquet file (not timed)")
    parser.add_argument("--model", help="score only this published model (default: every one)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from leadscore import library

    _import_the_scoring_path()
    as_of = datetime.fromisoformat(args.as_of)
    phases: dict[str, float] = {"import": time.perf_counter() - started}
    t, cpu = time.perf_counter(), cpu_seconds()
    runs = library.score(workspace=args.workspace, as_of=as_of, models=[args.model] if args.model else None)
    score_s, score_cpu_s = time.perf_counter() - t, cpu_seconds() - cpu
    peak = peak_rss_mb()  # before the (untimed) export below
    failures = getattr(runs, "failures", [])  # models that could not be scored (``ScoreRuns``)
    if failures or len(runs) != 1:
        raise SystemExit(f"the bench workspace must score one published model; {len(runs)} scored, "
                         f"failed: {failures}")
    [run] = runs
    phases.update({f"engine.{name}": seconds for name, seconds in run.phases.items()})
    # what the call did besides the engine's run: store open/close, hook, settling, lazy imports
    phases["around the run"] = score_s - run.seconds

    table, key = ("account_scores", "company_id") if run.level == "account" else ("scores", "contact_id")
    with library.open_store(args.workspace) as store:
        groups = store.get_version(run.model).group_names
        parts = ", ".join(f"groups[{i + 1}] AS g_{i}" for i in range(len(groups)))
        name = run.model.replace("'", "''")
        select = f"SELECT {key}, score, tier, {parts} FROM {table} WHERE model = '{name}'"
        row = store.con.execute(f"SELECT count(*) FROM ({select})").fetchone()
        if args.export:
            target = args.export.replace("'", "''")
            store.con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    print(json.dumps({
        "engine": "library.score",
        "model": run.model,
        "score_s": score_s,
        "score_cpu_s": score_cpu_s,
        "scored": int(row[0]) if row else 0,
        "peak_rss_mb": peak,
        "phases": phases,
        "total_s": time.perf_counter() - started,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
