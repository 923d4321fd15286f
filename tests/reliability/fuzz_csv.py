"""Malformed CSV files: every bad row reported with its line, every good row imported.

Each file is built row by row, so the truth is known: good rows (an id, an e-mail, a title, a
company size) and bad ones of five kinds: too many fields, too few, a quote opened and never closed
on its line (which would swallow the next rows), a company size that is not a number, and a row
with neither id nor e-mail; plus blank lines (neither). Line endings are \\n or \\r\\n, and some
values are quoted or hold a quoted comma. After ``import_file``: the contacts are exactly the good
rows, and the rejects file lists exactly the bad rows' physical line numbers.
"""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

from tests.reliability.common import Figures

from leadscore.ingest import import_file
from leadscore.storage.store import Store

KINDS = ("too many", "too few", "open quote", "bad number", "no id")


def _row(rng: random.Random, n: int) -> str:
    title = rng.choice(["CEO", '"VP, Sales"', "Engineer", "Head of Growth", '"A ""quoted"" title"'])
    return f"r{n},user{n}@x{rng.randrange(9)}.com,{title},{rng.randrange(1, 5000)}"


def _bad(rng: random.Random, n: int, kind: str) -> str:
    if kind == "too many":
        return f"r{n},u{n}@x.com,CEO,10,extra"
    if kind == "too few":
        return f"r{n},u{n}@x.com"
    if kind == "open quote":
        return f'r{n},"u{n}@x.com,CEO,10'
    if kind == "bad number":
        return f"r{n},u{n}@x.com,CEO,{rng.choice(['12x', 'ten', '1.5.2'])}"
    return ",,CEO,10"


def make_file(path: Path, rng: random.Random) -> tuple[set[str], set[int]]:
    """Write one file; returns (ids of the good rows, physical lines of the bad rows)."""
    newline = rng.choice(["\n", "\r\n"])
    lines = ["contact_id,email,job_title,company_size"]
    good: set[str] = set()
    bad: set[int] = set()
    quote_open = False
    for n in range(rng.randint(1, 60)):
        roll = rng.random()
        if roll < 0.05:
            lines.append("")
            continue
        if roll < 0.25:
            kind = rng.choice(KINDS)
            if kind == "open quote" and quote_open:
                kind = "too few"  # one runaway quote per file keeps the truth simple
            quote_open |= kind == "open quote"
            lines.append(_bad(rng, n, kind))
            bad.add(len(lines))
        else:
            lines.append(_row(rng, n))
            good.add(f"r{n}")
    path.write_bytes((newline.join(lines) + (newline if rng.random() < 0.8 else "")).encode())
    return good, bad


def run_fuzz_csv(workdir: Path, *, files: int = 1000, seed: int = 9) -> Figures:
    fig = Figures(f"malformed CSV files: {files:,}", "make reliability (tests/reliability/fuzz_csv.py)")
    rng = random.Random(seed)
    wrong: list[str] = []
    good_rows = bad_rows = 0
    started = time.perf_counter()
    for i in range(files):
        path = workdir / f"f{i}.csv"
        good, bad = make_file(path, rng)
        good_rows += len(good)
        bad_rows += len(bad)
        with Store.open(":memory:") as store:
            try:
                result = import_file(store, "contacts", path, rejects_dir=workdir / "rejects")
            except Exception as exc:  # noqa: BLE001 - the finding
                wrong.append(f"{path.name}: {type(exc).__name__}: {exc}")
                continue
            stored = {r[0] for r in store.con.execute("SELECT contact_id FROM contacts").fetchall()}
        reported: set[int] = set()
        if result.rejects_file is not None:
            with open(result.rejects_file, newline="", encoding="utf-8") as handle:
                reported = {int(r["line"]) for r in csv.DictReader(handle)}
        if stored != good:
            wrong.append(f"{path.name}: imported {sorted(stored ^ good)[:5]} wrongly")
        if reported != bad:
            wrong.append(f"{path.name}: bad lines {sorted(bad)}, reported {sorted(reported)}")
        path.unlink()
    fig.figures = {"files": files, "good rows": good_rows, "bad rows": bad_rows,
                   "files with a good row lost or a bad row not reported at its line": len(wrong),
                   "seconds": round(time.perf_counter() - started)}
    if wrong:
        fig.figures["first"] = wrong[:3]
    fig.require(not wrong, f"{len(wrong)} files wrong")
    return fig


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_fuzz_csv(Path(tmp), files=int(sys.argv[1]) if len(sys.argv) > 1 else 1000).lines()),
              flush=True)
