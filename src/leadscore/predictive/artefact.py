"""Trained predictive models as versioned artefacts in the store: JSON and LightGBM text, no pickle.

Why no pickle: a pickle runs code when loaded and breaks silently across library versions. The
artefact here is data only — the feature plan, the calibration map, the regression coefficients
and the training score distribution as JSON, the trees in LightGBM's documented text format — so
it can be read, diffed and audited. It names the leadscore version and artefact format that made
it; a different one is refused with a message saying to retrain, never a crash in the middle of
scoring.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from leadscore import __version__
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.predictive.calibrate import Calibrator
from leadscore.predictive.features import FeaturePlan
from leadscore.predictive.learners import GradientBoosting, Learner, Logistic
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

#: Bump when the artefact's JSON layout changes.
ARTEFACT_FORMAT = 1
DEFAULT_NAME = "likelihood"
#: The default name of a model that learns companies (``leadscore train --level account``).
DEFAULT_ACCOUNT_NAME = "account_likelihood"
LEVELS = ("contact", "account")


class ArtefactVersionError(LeadscoreError):
    """An artefact made by another version of leadscore."""


@dataclass
class PredictiveModel:
    """A trained, calibrated model with everything needed to predict and to explain."""

    name: str
    label: str
    horizon_days: int | None
    data_until: datetime
    cutoffs: list[datetime]
    plan: FeaturePlan
    learner: Learner
    calibrator: Calibrator
    metrics: dict[str, Any]
    #: Quantile edges and shares of the training probabilities, for drift (PSI) at predict time.
    score_edges: list[float] = field(default_factory=list)
    score_shares: list[float] = field(default_factory=list)
    version: int | None = None
    trained_at: datetime | None = None
    trained_by: str | None = None
    #: ``contact`` (rows are contacts) or ``account`` (rows are companies: ``predictive/accounts.py``)
    level: str = "contact"

    @property
    def learner_kind(self) -> str:
        return self.learner.kind

    def spec_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "calibration": self.calibrator.to_json(),
            "logistic": self.learner.to_json() if isinstance(self.learner, Logistic) else None,
            "score_edges": self.score_edges, "score_shares": self.score_shares,
        }


def save_predictive_model(store: Store, model: PredictiveModel, holdout: pa.Table | None = None) -> PredictiveModel:
    """Record ``model`` as the next version of its name (one transaction), with the held-out rows
    it was measured on (``contact_id``, ``cutoff``, ``probability``, ``converted``) when given."""
    booster = model.learner.to_text() if isinstance(model.learner, GradientBoosting) else None
    with store.transaction() as con:
        other = con.execute("SELECT level FROM predictive_models WHERE name = ? AND level <> ? LIMIT 1",
                            [model.name, model.level]).fetchone()
        if other:
            raise LeadscoreError(f"`{model.name}` is already a predictive model of {other[0]}s; give this "
                                 f"{model.level} model another --name")
        row = con.execute("SELECT max(version) FROM predictive_models WHERE name = ?", [model.name]).fetchone()
        version = int(row[0]) + 1 if row and row[0] is not None else 1
        now = utcnow()
        try:
            who: str | None = getpass.getuser()
        except (KeyError, OSError):
            who = None
        con.execute(
            f"INSERT INTO predictive_models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [model.name, version, now, who, __version__, ARTEFACT_FORMAT, model.label, model.horizon_days,
             model.data_until, model.cutoffs, model.learner_kind, model.calibrator.method,
             json.dumps(model.metrics), json.dumps(model.spec_json()), booster, model.level])
        if holdout is not None and holdout.num_rows:
            con.register("_holdout_rows", holdout)
            try:
                con.execute("INSERT INTO predictive_holdout SELECT ?, ?, contact_id, cutoff, probability, converted "
                            "FROM _holdout_rows", [model.name, version])
            finally:
                con.unregister("_holdout_rows")
    model.version, model.trained_at, model.trained_by = version, now, who
    return model


_COLUMNS = ("name, version, trained_at, trained_by, leadscore_version, format, label, horizon_days, "
            "data_until, cutoffs, learner, calibration, metrics, spec, booster, level")


def predictive_names(store: Store, level: str = "contact") -> list[str]:
    """The predictive models of contacts (or, ``level="account"``, of companies)."""
    return [r[0] for r in store.con.execute("SELECT DISTINCT name FROM predictive_models WHERE level = ? ORDER BY 1",
                                            [level]).fetchall()]


def load_predictive_model(store: Store, name: str | None = None, version: int | None = None,
                          level: str = "contact") -> PredictiveModel:
    """The latest (or given) version of a predictive model of ``level``; refuses artefacts of another
    release, and a model of the other level (a contact run never reads a model of companies)."""
    names = predictive_names(store, level)
    default, train = (DEFAULT_NAME, "leadscore train") if level == "contact" else (
        DEFAULT_ACCOUNT_NAME, "leadscore train --level account")
    if name is None:
        if not names:
            raise NotFoundError(f"no predictive model of {level}s yet: run `{train}` first")
        name = default if default in names else names[0]
    elif name not in names and name in predictive_names(store, "account" if level == "contact" else "contact"):
        other = "account" if level == "contact" else "contact"
        raise NotFoundError(f"`{name}` is a predictive model of {other}s, not of {level}s "
                            f"(use --level {other})")
    sql = f"SELECT {_COLUMNS} FROM predictive_models WHERE name = ?"
    params: list[Any] = [name]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    row = store.con.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
    if row is None:
        known = ", ".join(names) or "none yet"
        raise NotFoundError(f"no predictive model `{name}`" + (f" version {version}" if version else "")
                            + f" (trained: {known}); run `{train}`")
    return model_from_row(dict(zip(_COLUMNS.split(", "), row, strict=True)))


def model_from_row(row: dict[str, Any]) -> PredictiveModel:
    """Rebuild a model from its stored row, checking first that this code can read it."""
    if row["format"] != ARTEFACT_FORMAT or row["leadscore_version"] != __version__:
        raise ArtefactVersionError(
            f"predictive model `{row['name']}` v{row['version']} was trained by leadscore "
            f"{row['leadscore_version']} (artefact format {row['format']}); this is leadscore {__version__} "
            f"(format {ARTEFACT_FORMAT}), which cannot trust it to mean the same thing: retrain it "
            "with `leadscore train`")
    try:
        spec = json.loads(row["spec"])
        plan = FeaturePlan.from_json(spec["plan"])
        learner: Learner
        if row["learner"] == "lightgbm":
            learner = GradientBoosting.from_text(row["booster"])
        else:
            learner = Logistic.from_json(spec["logistic"])
        calibrator = Calibrator.from_json(spec["calibration"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtefactVersionError(
            f"predictive model `{row['name']}` v{row['version']} is damaged ({exc!r}); retrain it with "
            "`leadscore train`") from exc
    return PredictiveModel(
        name=row["name"], label=row["label"], horizon_days=row["horizon_days"], data_until=row["data_until"],
        cutoffs=list(row["cutoffs"]), plan=plan, learner=learner, calibrator=calibrator,
        metrics=json.loads(row["metrics"]), score_edges=list(spec["score_edges"]),
        score_shares=list(spec["score_shares"]), version=row["version"], trained_at=row["trained_at"],
        trained_by=row["trained_by"], level=row.get("level") or "contact")


def list_models(store: Store) -> list[dict[str, Any]]:
    """Every trained version with its metrics (without loading the artefacts)."""
    rows = store.con.execute(
        "SELECT name, version, trained_at, trained_by, label, horizon_days, data_until, learner, "
        "calibration, metrics, level FROM predictive_models ORDER BY name, version").fetchall()
    keys = ("name", "version", "trained_at", "trained_by", "label", "horizon_days", "data_until", "learner",
            "calibration", "metrics", "level")
    out = []
    for r in rows:
        item = dict(zip(keys, r, strict=True))
        item["metrics"] = json.loads(item["metrics"])
        out.append(item)
    return out


def holdout_rows(store: Store, name: str, version: int) -> tuple[list[bool], list[float], datetime | None]:
    """The labels and probabilities of the rows a model version was measured on at training."""
    rows = store.con.execute("SELECT converted, probability, cutoff FROM predictive_holdout "
                             "WHERE name = ? AND version = ? ORDER BY contact_id", [name, version]).fetchall()
    return [bool(r[0]) for r in rows], [float(r[1]) for r in rows], rows[0][2] if rows else None
