"""``leadscore bench predict`` (``make bench-predict``): the quality bar on a public lead data set and
the speed bar on synthetic data.

Quality: the X Education ``Leads.csv`` (9,240 leads, ``Converted`` flag; see its SOURCE.md) is cut
into five seeded folds. For each fold, the other four are imported as contacts through the real
importer (with the sales-filled columns Tags, Lead Quality, Lead Profile and Asymmetrique* left
out by the mapping, and the row ids not used as features), a model is trained with default
settings (``--label converted``), the held-out fold is imported, ``predict`` scores everyone,
and AUC and ECE are measured on the held-out leads only. The file is read where it lies and never
copied into the repository.

Speed: a synthetic workspace (``demo.generator``) of 100k contacts / 2M events is trained on,
then a 1M-contact / 20M-event one is predicted with that model (the shape of `make bench`).

Run: ``leadscore bench predict [--quality-only|--speed-only]``.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leadscore.predictive import calibrate

LEADS_RELATIVE = Path("x-education-leads") / "Leads.csv"
#: Filled in by the sales team during or after contact: they would leak the outcome.
SALES_FILLED = ("Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Index",
                "Asymmetrique Profile Index", "Asymmetrique Activity Score", "Asymmetrique Profile Score")
MAPPING = "columns:\n" + "".join(f"  {c}: null\n" for c in ("Lead Number", *SALES_FILLED))


def find_leads_csv(start: Path | None = None) -> Path | None:
    """``$LEADSCORE_SHARED_DATA/x-education-leads/Leads.csv``, or the first ``shared/data`` above
    ``start`` (default: this file) that holds it."""
    env = os.environ.get("LEADSCORE_SHARED_DATA")
    if env and (Path(env) / LEADS_RELATIVE).is_file():
        return Path(env) / LEADS_RELATIVE
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        candidate = parent / "shared" / "data" / LEADS_RELATIVE
        if candidate.is_file():
            return candidate
    return None


@dataclass
class FoldResult:
    fold: int
    auc: float
    ece: float
    held_out: int
    chosen: str
    calibration: str
    train_seconds: float


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def leads_quality(source: Path, *, folds: int = 5, seed: int = 0, only: list[int] | None = None) -> list[FoldResult]:
    """Train on four fifths, measure on the held-out fifth, for each fold (see module docstring)."""
    from leadscore import library

    with source.open(newline="", encoding="utf-8") as f:
        header, *body = list(csv.reader(f))
    order = list(range(len(body)))
    random.Random(seed).shuffle(order)
    label_at = header.index("Converted")
    results = []
    for k in only if only is not None else range(folds):
        held = set(order[k::folds])
        with tempfile.TemporaryDirectory(prefix="leadscore-quality-") as tmp:
            root = Path(tmp)
            (root / "mapping.yml").write_text(MAPPING, encoding="utf-8")
            _write_csv(root / "train.csv", header, [body[i] for i in range(len(body)) if i not in held])
            _write_csv(root / "test.csv", header, [body[i] for i in sorted(held)])
            ws = library.init(root / "ws")
            mapping = _mapping(root / "mapping.yml")
            library.import_file("contacts", root / "train.csv", workspace=ws, mapping=mapping)
            started = time.perf_counter()
            trained = library.train(workspace=ws, label="converted")
            seconds = time.perf_counter() - started
            library.import_file("contacts", root / "test.csv", workspace=ws, mapping=mapping)
            library.predict(workspace=ws)
            truth = {body[i][0]: body[i][label_at] == "1" for i in held}
            with library.open_store(ws, read_only=True) as store:
                got = store.con.execute("SELECT contact_id, probability FROM predictions").fetchall()
            pairs = [(truth[cid], p) for cid, p in got if cid in truth]
            y = np.array([t for t, _ in pairs])
            p = np.array([q for _, q in pairs])
            results.append(FoldResult(k, calibrate.auc(y, p), calibrate.ece(y, p), len(pairs),
                                      trained.metrics["chosen"], trained.metrics["calibration"], seconds))
    return results


def _mapping(path: Path):  # type: ignore[no-untyped-def]
    from leadscore.ingest.mapping import load_mapping

    return load_mapping(path)


def speed(contacts: int = 100_000, events: int = 2_000_000, predict_contacts: int = 1_000_000,
          predict_events: int = 20_000_000) -> dict[str, float]:
    """Seconds to train on ``contacts``/``events`` and to predict ``predict_contacts`` contacts."""
    from datetime import datetime

    from leadscore.demo.generator import generate, load_into_store
    from leadscore.predictive.artefact import load_predictive_model
    from leadscore.predictive.predict import predict_contacts as predict_all
    from leadscore.predictive.train import train_model
    from leadscore.workspace import init_workspace

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-predict-") as tmp:
        ws = init_workspace(Path(tmp) / "train")
        with ws.open_store() as store:
            load_into_store(store, generate(contacts, events, seed=7))
            started = time.perf_counter()
            result = train_model(store, until=datetime(2026, 7, 1))
            out["train_seconds"] = time.perf_counter() - started
            out["train_auc"] = result.metrics["auc"]
            model = load_predictive_model(store)
        big = init_workspace(Path(tmp) / "predict")
        with big.open_store() as store:
            load_into_store(store, generate(predict_contacts, predict_events, seed=8))
            started = time.perf_counter()
            predicted = predict_all(store, model=model, as_of=datetime(2026, 1, 1))
            out["predict_seconds"] = time.perf_counter() - started
            out["predicted"] = predicted.contacts
            out.update({f"predict_{k}": v for k, v in predicted.phases.items()})
    return out


def format_quality(results: list[FoldResult]) -> str:
    """One line per fold and the means against the bars (what ``leadscore bench predict`` prints)."""
    lines = [f"quality fold {r.fold}: held-out AUC {r.auc:.4f}, ECE {r.ece:.4f} on {r.held_out} leads "
             f"({r.chosen} + {r.calibration}, trained in {r.train_seconds:.1f}s)" for r in results]
    lines.append(f"quality mean: AUC {np.mean([r.auc for r in results]):.4f} (bar 0.90), "
                 f"ECE {np.mean([r.ece for r in results]):.4f} (bar 0.03)")
    return "\n".join(lines)


def format_speed(figures: dict[str, float]) -> str:
    """The speed line: training and prediction seconds against the bars, prediction phases."""
    phases = ", ".join(f"{k[8:]} {v:.1f}s" for k, v in figures.items()
                       if k.startswith("predict_") and k != "predict_seconds")
    return (f"speed: train on 100k contacts / 2M events {figures['train_seconds']:.1f}s (bar 60s, "
            f"validation AUC {figures['train_auc']:.3f}); predict {int(figures['predicted']):,} contacts "
            f"{figures['predict_seconds']:.1f}s (bar 30s: {phases})")
