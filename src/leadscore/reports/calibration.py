"""Is the predictive score's probability honest? Measured on held-out rows only.

A predictive model is measured on rows it did not learn from: at training, ``leadscore train``
keeps the held-out rows (the newest cut-off of a time split, or the seeded random validation share
of one cut-off) with their cross-fitted probabilities and labels (``predictive_holdout``). This
section reads exactly those, so it shows the same AUC and calibration error as ``train``, and says
which kind of hold-out it was. Why not the ``predictions`` table: the latest model predicts every
contact, the ones it was trained on included, and a model scored on its own training rows looks
better calibrated than it is (on the public X Education leads, ECE 0.008 in-sample where the
held-out one was several times larger).

The probabilities are called honest only when the calibration error is below
``calibrate.ECE_HONEST`` (docs/predictive.md).

No predictive model, or one trained before held-out rows were kept, is a normal state: the model
is listed without a measure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from leadscore.predictive.artefact import holdout_rows
from leadscore.predictive.calibrate import ECE_HONEST
from leadscore.reports.metrics import Calibration, calibration
from leadscore.storage.store import Store


@dataclass
class PredictiveCalibration:
    model: str
    version: int
    held_out: str  # which rows: "newest cut-off 2025-06-01 (time split)" or "seeded random 20% ..."
    contacts: int  # held-out rows measured
    calibration: Calibration | None
    trained_auc: float | None = None  # what `leadscore train` reported, for comparison
    trained_ece: float | None = None
    #: calibration error below the documented threshold (``calibrate.ECE_HONEST``)
    honest: bool = False


def _latest(store: Store) -> list[tuple[str, int, str, str]]:
    """(name, version, metrics JSON, label) of the latest version of every predictive model."""
    return [tuple(r) for r in store.con.execute(
        "SELECT name, version, metrics, label FROM predictive_models WHERE level = 'contact' "
        "QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1 ORDER BY name").fetchall()]


def _which(validation: str, cutoff: datetime | None) -> str:
    when = f" {cutoff:%Y-%m-%d}" if cutoff else ""
    if validation == "newest cut-off":
        return f"held-out rows: the newest cut-off{when} (time split: trained on older cut-offs)"
    return f"held-out rows: a {validation} share of the contacts at the cut-off{when}, unseen in training"


def predictive_calibration(store: Store, *, bins: int = 10) -> list[PredictiveCalibration]:
    """Calibration of the latest version of every predictive model on its held-out rows."""
    out = []
    for name, version, metrics_json, _label in _latest(store):
        metrics = json.loads(metrics_json)
        y, p, cutoff = holdout_rows(store, name, version)
        measured = calibration(np.asarray(y, dtype=bool), np.asarray(p), bins) if y else None
        honest = measured is not None and measured.ece is not None and measured.ece < ECE_HONEST
        out.append(PredictiveCalibration(
            name, version, _which(str(metrics.get("validation", "")), cutoff), len(y), measured,
            metrics.get("auc"), metrics.get("ece"), honest))
    return out
