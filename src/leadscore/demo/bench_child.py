"""The benchmark's scoring process: ``python -m leadscore.demo.bench_child STORE MODEL AS_OF [--export F]``.

Why a separate process: the requirement bounds the peak memory of a scoring run, and the only
clean way to read one run's peak RSS is to run it alone in a child and ask the kernel (``wait4``)
afterwards. The parent (``bench.run_bench``) holds the generated data and its own DuckDB buffers,
which must not count.

It scores with ``leadscore.engine.run.score_contacts`` — what ``leadscore score`` does. It prints one JSON line with the
timings; with ``--export`` it then (untimed) writes ``contact_id, score, tier, g_0..`` to Parquet
for the parent to compare with the hand-written query.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any


def _score(store: Any, loaded: Any, as_of: Any) -> tuple[str, dict[str, float], str]:
    """Run the scoring as ``leadscore score`` does; return (engine, its phases, SQL of the results)."""
    from leadscore.engine.run import publish
    from leadscore.scoring import score_all

    publish(store, loaded)
    [result] = score_all(store, as_of=as_of, models=[loaded.model.name])
    name = loaded.model.name.replace("'", "''")
    parts = ", ".join(f"groups[{i + 1}] AS g_{i}" for i in range(len(loaded.model.groups)))
    return "leadscore score", dict(result.phases), (
        f"SELECT contact_id, score, tier, {parts} FROM scores WHERE model = '{name}'")


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: a figure that other load on the machine barely moves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak RSS so far, from /proc (VmHWM).

    Why not ``ru_maxrss`` as seen by the parent: Linux keeps that figure across fork and exec, so a
    child of a parent holding 2 GB of DuckDB buffers "peaks" at 2 GB before running a line of its
    own. VmHWM belongs to the address space the child got at exec, so it counts only the child.
    """
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)  # elsewhere: the best figure there is
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadscore.demo.bench_child")
    parser.add_argument("store")
    parser.add_argument("model")
    parser.add_argument("as_of")
    parser.add_argument("--export", help="write the scores to this Parquet file (not timed)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from leadscore.model.loader import load_model
    from leadscore.storage.store import Store
    from leadscore.timeutil import parse_as_of

    phases: dict[str, float] = {"import": time.perf_counter() - started}
    t = time.perf_counter()
    store = Store.open(args.store)
    loaded = load_model(args.model)
    phases["open"] = time.perf_counter() - t
    t, cpu = time.perf_counter(), _cpu_s()
    kind, engine_phases, select = _score(store, loaded, parse_as_of(args.as_of))
    score_s, score_cpu_s = time.perf_counter() - t, _cpu_s() - cpu
    peak_rss_mb = _peak_rss_mb()  # before the (untimed) export below
    scored_row = store.con.execute(f"SELECT count(*) FROM ({select})").fetchone()
    if args.export:
        target = args.export.replace("'", "''")
        store.con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    store.close()
    print(json.dumps({
        "engine": kind,
        "score_s": score_s,
        "score_cpu_s": score_cpu_s,
        "scored": int(scored_row[0]) if scored_row else 0,
        "peak_rss_mb": peak_rss_mb,
        "phases": {**phases, **{f"engine.{k}": v for k, v in engine_phases.items()}},
        "total_s": time.perf_counter() - started,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
