"""``leadscore bench score`` (``make bench``): ``leadscore score`` against one hand-written DuckDB query.

The requirement: scoring 1M contacts / 20M events with a 25-rule model (decay, caps) takes at
most 1.5× the hand-written query computing the same scores, with peak RSS ≤ 2 GB. ``run_bench``

1. builds a workspace: the generated data (``demo.generator``) loaded into a fresh store and the
   bench model (``score_model.BENCH_MODEL_YAML``) published, as a user's would be;
2. times the hand-written query (``score_model.HAND_WRITTEN_SQL``) materialised into a temporary
   table, best of two runs, and keeps its results;
3. runs what ``leadscore score`` runs — the library call ``leadscore.library.score(workspace=,
   as_of=)``, workflow hook and settling of ``set`` actions included — in a child process
   (``score_run``), so that the peak RSS it reads (``measure.peak_rss_mb``) is that run's alone,
   and collects the phase timings it prints;
4. compares the two sets of scores (max absolute difference, tier mismatches, missing rows):
   a benchmark that is fast but wrong must not pass.

``format_bench`` turns the result into the text the CLI prints; the computation never prints.

    >>> result = run_bench("/tmp/bench", 1_000_000, 20_000_000)   # doctest: +SKIP
    >>> print(format_bench(result))                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from leadscore import library
from leadscore.bench.measure import cpu_seconds, per_second
from leadscore.bench.score_model import BENCH_GROUPS, BENCH_MODEL_YAML, HAND_WRITTEN_SQL
from leadscore.demo.generator import generate, load_into_store
from leadscore.workspace import Workspace, init_workspace

__all__ = ["BENCH_MODEL_YAML", "HAND_WRITTEN_SQL", "BenchResult", "format_bench", "run_bench"]

#: The requirement's bounds.
MAX_RATIO = 1.5
MAX_PEAK_RSS_MB = 2048.0


@dataclass
class BenchResult:
    """Everything one benchmark run measured. Times in seconds, memory in MiB."""

    contacts: int
    events: int
    seed: int
    as_of: datetime
    data_s: float                      # generate + bulk load into the store
    hand_runs_s: list[float]           # each run of the hand-written query (wall)
    hand_cpu_s: float                  # CPU seconds (all threads) of the fastest hand run
    engine: str                        # what was timed: "library.score"
    engine_s: float                    # the fastest scoring call inside the child (wall)
    engine_cpu_s: float                # its CPU seconds, all threads
    engine_wall_s: float               # the child process, start to exit (imports, open, export)
    peak_rss_mb: float                 # the child's peak resident set size
    scored: int                        # contacts the engine scored
    hand_rows: int
    max_abs_diff: float                # over score and every group; NaN if nothing to compare
    tier_mismatches: int
    missing_rows: int                  # contacts in one result and not the other
    phases: dict[str, float] = field(default_factory=dict)
    store_path: str = ""
    engine_runs_s: list[float] = field(default_factory=list)  # each scoring run, each a first run

    @property
    def hand_s(self) -> float:
        return min(self.hand_runs_s)

    @property
    def ratio(self) -> float:
        """Engine time over the hand-written query's: the number the requirement bounds."""
        return self.engine_s / self.hand_s if self.hand_s > 0 else float("inf")

    @property
    def cpu_ratio(self) -> float:
        """The same ratio in CPU seconds: steadier than wall time on a machine shared with others."""
        return self.engine_cpu_s / self.hand_cpu_s if self.hand_cpu_s > 0 else float("inf")

    @property
    def agrees(self) -> bool:
        return self.missing_rows == 0 and self.tier_mismatches == 0 and self.max_abs_diff <= 1e-9

    @property
    def passed(self) -> bool:
        return self.agrees and self.ratio <= MAX_RATIO and self.peak_rss_mb <= MAX_PEAK_RSS_MB

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``, with the derived figures included."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out.update(hand_s=self.hand_s, ratio=self.ratio, cpu_ratio=self.cpu_ratio, agrees=self.agrees,
                   passed=self.passed,
                   hand_events_per_s=per_second(self.events, self.hand_s),
                   engine_events_per_s=per_second(self.events, self.engine_s))
        return out


def _fresh_workspace(directory: Path) -> Workspace:
    """A new workspace in ``directory/ws`` whose only model is the bench model (not yet published)."""
    root = directory / "ws"
    shutil.rmtree(root, ignore_errors=True)
    (root / "models").mkdir(parents=True)
    (root / "models" / "bench.yml").write_text(BENCH_MODEL_YAML, encoding="utf-8")
    return init_workspace(root, name="bench")


def _time_hand_query(ws: Workspace, as_of: datetime, export: Path, runs: int
                     ) -> tuple[list[float], float, int]:
    """Materialise the hand-written query ``runs`` times (timed), then export the last result.

    Returns the wall time of each run, the CPU seconds of the fastest, and the row count.
    """
    sql = HAND_WRITTEN_SQL(as_of)
    times: list[float] = []
    cpu: list[float] = []
    with ws.open_store() as store:
        for _ in range(runs):
            store.con.execute("DROP TABLE IF EXISTS hand")
            started, cpu_started = time.perf_counter(), cpu_seconds()
            store.con.execute(f"CREATE TEMP TABLE hand AS {sql}")
            times.append(time.perf_counter() - started)
            cpu.append(cpu_seconds() - cpu_started)
        row = store.con.execute("SELECT count(*) FROM hand").fetchone()
        target = str(export).replace("'", "''")
        store.con.execute(f"COPY hand TO '{target}' (FORMAT parquet)")
    return times, cpu[times.index(min(times))], int(row[0]) if row else 0


def _run_child(ws: Workspace, as_of: datetime, export: Path, log: Path, model: str | None = None
               ) -> tuple[dict[str, Any], float, float]:
    """Run ``score_run`` (every published model, or ``model``); return its JSON report, its wall
    time and its peak RSS in MiB."""
    command = [sys.executable, "-m", "leadscore.bench.score_run", str(ws.root), as_of.isoformat(),
               "--export", str(export), *(["--model", model] if model else [])]
    started = time.perf_counter()
    with open(log, "w") as out, open(log.with_suffix(".err"), "w") as err:
        child = subprocess.run(command, stdout=out, stderr=err, check=False)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(
            f"the scoring process failed (exit {child.returncode}):\n"
            + log.with_suffix(".err").read_text()[-4000:])
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"the scoring process printed no report; see {log}")
    report = json.loads(lines[-1])
    return report, wall, float(report["peak_rss_mb"])


def compare_scores(hand: Path, engine: Path, n_groups: int) -> tuple[float, int, int]:
    """(max |difference| over score and groups, tier mismatches, rows missing on either side)."""
    diffs = ", ".join(["abs(h.score - e.score)"] + [f"abs(h.g_{i} - e.g_{i})" for i in range(n_groups)])
    con = duckdb.connect()
    try:
        row = con.execute(f"""
            SELECT max(greatest({diffs})),
                   count(*) FILTER (WHERE h.contact_id IS NOT NULL AND e.contact_id IS NOT NULL
                                      AND h.tier IS DISTINCT FROM e.tier),
                   count(*) FILTER (WHERE h.contact_id IS NULL OR e.contact_id IS NULL)
            FROM read_parquet(?) h FULL JOIN read_parquet(?) e ON h.contact_id = e.contact_id
        """, [str(hand), str(engine)]).fetchone()
    finally:
        con.close()
    assert row is not None
    return (float("nan") if row[0] is None else float(row[0])), int(row[1]), int(row[2])


def run_bench(directory: str | Path, n_contacts: int, n_events: int, seed: int = 42, *,
              hand_runs: int = 2, engine_runs: int = 2) -> BenchResult:
    """Generate data into ``directory``, time both ways of scoring it, and check they agree."""
    work = Path(directory)
    work.mkdir(parents=True, exist_ok=True)
    ws = _fresh_workspace(work)

    started = time.perf_counter()
    data = generate(n_contacts, n_events, seed=seed)
    with ws.open_store() as store:
        load_into_store(store, data)
    data_s = time.perf_counter() - started
    library.publish(ws.models_dir / "bench.yml", workspace=ws)
    as_of = data.as_of
    del data

    hand_export, engine_export = work / "hand_scores.parquet", work / "engine_scores.parquet"
    hand_times, hand_cpu, hand_rows = _time_hand_query(ws, as_of, hand_export, hand_runs)
    # Both sides get the best of the same number of runs: one run of each is at the mercy of the
    # machine's noise (seen here: the same query 2.8-4.3 s on an idle VM). Each scoring run is a
    # first run (scores and history emptied before it), so each writes the same rows.
    runs: list[tuple[dict[str, Any], float, float]] = []
    for attempt in range(max(1, engine_runs)):
        if attempt:
            _forget_scores(ws)
        runs.append(_run_child(ws, as_of, engine_export, work / "score_run.log"))
    report, wall, _ = min(runs, key=lambda run: float(run[0]["score_s"]))
    rss_mb = max(run[2] for run in runs)
    max_diff, tier_mismatches, missing = compare_scores(hand_export, engine_export, len(BENCH_GROUPS))
    return BenchResult(
        contacts=n_contacts, events=n_events, seed=seed, as_of=as_of, data_s=data_s,
        hand_runs_s=hand_times, hand_cpu_s=hand_cpu, engine=str(report["engine"]),
        engine_s=float(report["score_s"]), engine_cpu_s=float(report.get("score_cpu_s", 0.0)),
        engine_wall_s=wall, peak_rss_mb=rss_mb, scored=int(report["scored"]), hand_rows=hand_rows,
        max_abs_diff=max_diff, tier_mismatches=tier_mismatches, missing_rows=missing,
        phases={k: float(v) for k, v in report.get("phases", {}).items()}, store_path=str(ws.store_path),
        engine_runs_s=[float(run[0]["score_s"]) for run in runs],
    )


def _forget_scores(ws: Workspace, tables: tuple[str, ...] = ("scores", "score_history", "score_runs")) -> None:
    """Empty what a scoring run writes, so the next run does a first run's work again."""
    with ws.open_store() as store, store.transaction() as con:
        for table in tables:
            con.execute(f"DELETE FROM {table}")
    with ws.open_store() as store:
        store.con.execute("CHECKPOINT")


def format_bench(result: BenchResult) -> str:
    """The human-readable report printed by ``leadscore bench``."""
    r = result
    ok = "ok" if r.agrees else "MISMATCH"
    verdict = "PASS" if r.passed else "FAIL"
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in r.phases.items())
    return "\n".join([
        f"leadscore bench: {r.contacts:,} contacts, {r.events:,} events, as of {r.as_of:%Y-%m-%d}",
        f"  data (generate + load)   {r.data_s:8.2f} s",
        f"  hand-written query       {r.hand_s:8.2f} s  {per_second(r.events, r.hand_s):>14,.0f} events/s"
        f"  (runs: {', '.join(f'{t:.2f}' for t in r.hand_runs_s)})",
        f"  leadscore score          {r.engine_s:8.2f} s  {per_second(r.events, r.engine_s):>14,.0f} events/s"
        f"  ({r.engine}; runs: {', '.join(f'{t:.2f}' for t in r.engine_runs_s)})",
        f"  ratio                    {r.ratio:8.2f} x  (limit {MAX_RATIO} x; in CPU seconds "
        f"{r.cpu_ratio:.2f} x: {r.engine_cpu_s:.1f} / {r.hand_cpu_s:.1f})",
        f"  peak RSS (scoring)       {r.peak_rss_mb:8.0f} MiB (limit {MAX_PEAK_RSS_MB:.0f} MiB)",
        f"  agreement                {ok}: max |diff| {r.max_abs_diff:.3g}, tier mismatches "
        f"{r.tier_mismatches}, missing rows {r.missing_rows} ({r.scored:,} scored)",
        f"  phases                   {phases}",
        f"  {verdict}",
    ])

