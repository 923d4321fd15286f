"""Reading stored scores back out: the leaderboard (``top``) and file exports (CSV / Parquet).

Export writes one row per contact and model with ``contact_id, model, model_version, score, tier,
grade``, one ``group_<name>`` column per group of any exported model, ``as_of`` and
``computed_at``. DuckDB's COPY writes the file, so a million rows take a second, not a minute.
Once a predictive model has written predictions (``leadscore predict``), two more columns follow:
``probability`` and ``priority`` of the latest prediction run's model (empty for contacts it did
not predict), and ``blended`` when a model file asks for a blended score (``predictive:``).
Contacts with a prediction but no rule score (a workspace with a predictive model only) get one
row with the rule columns empty. ``export_predictions`` writes the predictions alone, with their
reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from leadscore.engine.lookup import checked_model, checked_tier
from leadscore.engine.run import model_of
from leadscore.errors import LeadscoreError
from leadscore.model.spec import ScoringModel
from leadscore.storage.csv_cells import spreadsheet_safe
from leadscore.storage.store import Store

FORMATS = ("csv", "parquet")
#: The predictions of the latest prediction run's model.
LATEST_PREDICTIONS = ("SELECT contact_id, probability, priority, factors, as_of, computed_at FROM predictions "
                      "WHERE model = (SELECT model FROM prediction_runs ORDER BY computed_at DESC LIMIT 1)")


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="duckdb")


def _group_names(store: Store, model: str | None) -> list[str]:
    """Every group name of the exported models' versions that have scores, in first-seen order."""
    sql = """SELECT group_names FROM model_versions
             WHERE (model, version) IN (SELECT DISTINCT model, model_version FROM scores) {}
             ORDER BY model, version""".format("AND model = ?" if model else "")
    rows = store.con.execute(sql, [model] if model else []).fetchall()
    return list(dict.fromkeys(name for (group_names,) in rows for name in group_names))


def _scores_select(store: Store, model: str | None) -> tuple[str, list[Any]]:
    """Scores with one ``group_<name>`` column per group, found by name in the version's group list."""
    columns = ["s.contact_id", "s.model", "s.model_version", "s.score", "s.tier", "s.grade"]
    for name in _group_names(store, model):
        alias = exp.to_identifier("group_" + name, quoted=True).sql(dialect="duckdb")
        columns.append(f"s.groups[list_position(mv.group_names, {_lit(name)})] AS {alias}")
    columns += ["s.as_of", "s.computed_at"]
    where = "WHERE s.model = ?" if model else ""
    predicted = ""
    if store.con.execute("SELECT count(*) FROM (SELECT 1 FROM predictions LIMIT 1)").fetchone() != (0,):
        columns += ["p.probability", "p.priority"]
        predicted = f"LEFT JOIN ({LATEST_PREDICTIONS}) p ON p.contact_id = s.contact_id "
        blends = _blends(store, model)
        if blends:
            columns.append("(1 - bl.weight) * s.score + bl.weight * 100 * pb.probability AS blended")
            predicted += (f"LEFT JOIN (VALUES {', '.join(blends)}) AS bl(model, version, pmodel, weight) "
                          "ON bl.model = s.model AND bl.version = s.model_version "
                          "LEFT JOIN predictions pb ON pb.model = bl.pmodel AND pb.contact_id = s.contact_id ")
    sql = (f"SELECT {', '.join(columns)} FROM scores s JOIN model_versions mv "
           f"ON mv.model = s.model AND mv.version = s.model_version {predicted}{where}")
    params: list[Any] = [model] if model else []
    if predicted:  # contacts predicted but without a rule score: their prediction, rule columns empty
        blended = columns[-1].endswith("AS blended")
        nulls = ["NULL"] * (len(columns) - 5 - blended)  # all but contact_id, the times, p's two (and blended)
        sql += (f" UNION ALL SELECT p.contact_id, {', '.join(nulls)}, p.as_of, p.computed_at, p.probability, "
                f"p.priority{', NULL' if blended else ''} FROM ({LATEST_PREDICTIONS}) p WHERE NOT EXISTS ("
                f"SELECT 1 FROM scores s WHERE s.contact_id = p.contact_id{' AND s.model = ?' if model else ''})")
        params += [model] if model else []
    return f"SELECT * FROM ({sql}) ORDER BY model NULLS LAST, score DESC, contact_id", params


def _blends(store: Store, model: str | None) -> list[str]:
    """``(model, version, predictive model, weight)`` SQL rows for scored versions whose file asks
    for a blended score (``predictive:`` in the model file)."""
    rows = []
    for name in [model] if model else store.published_models():
        for (version,) in store.con.execute("SELECT DISTINCT model_version FROM scores WHERE model = ?",
                                            [name]).fetchall():
            scoring = model_of(store.get_version(name, version))
            blend = scoring.predictive if isinstance(scoring, ScoringModel) else None
            if blend is not None:
                rows.append(f"({_lit(name)}, {int(version)}, {_lit(blend.model)}, {float(blend.weight)!r})")
    return rows


def _copy(store: Store, sql: str, params: list[Any], out: str | Path, file_format: str | None) -> int:
    """``COPY (sql) TO out`` as CSV or Parquet (from the extension unless given); returns the rows."""
    target = Path(out)
    fmt = (file_format or target.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise LeadscoreError(f"cannot export as {fmt!r}: choose one of {', '.join(FORMATS)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    if fmt == "csv":  # text opened as text by a spreadsheet, not run as a formula
        sql = spreadsheet_safe(store.con, sql, params)
    row = store.con.execute(f"COPY ({sql}) TO {_lit(str(target))} ({options})", params).fetchone()
    return int(row[0]) if row else 0


def export_scores(store: Store, out: str | Path, *, file_format: str | None = None,
                  model: str | None = None) -> int:
    """Write stored scores to ``out``; the format comes from the extension unless given."""
    if model and model not in store.published_models():
        raise LeadscoreError(f"no published model `{model}`")
    sql, params = _scores_select(store, model)
    return _copy(store, sql, params, out, file_format)


def export_predictions(store: Store, out: str | Path, *, file_format: str | None = None,
                       model: str | None = None) -> int:
    """Write stored predictions (``leadscore predict``): ``contact_id, model, model_version,
    probability, priority, reasons`` (the top factors, as JSON), ``as_of, computed_at``; of one
    predictive model, or of the latest run's. Needs no rule model."""
    names = [r[0] for r in store.con.execute("SELECT DISTINCT model FROM predictions ORDER BY 1").fetchall()]
    if not names:
        raise LeadscoreError("no predictions yet: run `leadscore train` then `leadscore predict`")
    if model and model not in names:
        raise LeadscoreError(f"no predictions of a predictive model `{model}` (predicted: {', '.join(names)})")
    which = "?" if model else "(SELECT model FROM prediction_runs ORDER BY computed_at DESC LIMIT 1)"
    sql = (f"SELECT contact_id, model, model_version, probability, priority, factors AS reasons, as_of, "
           f"computed_at FROM predictions WHERE model = {which} ORDER BY probability DESC, contact_id")
    return _copy(store, sql, [model] if model else [], out, file_format)


@dataclass
class TopRow:
    contact_id: str
    model: str
    score: float
    tier: str
    grade: str | None
    name: str
    job_title: str | None
    company: str | None
    email: str | None


def top_scores(store: Store, *, model: str | None = None, tier: str | None = None,
               n: int = 20) -> list[TopRow]:
    """The best-scored contacts, optionally of one model and tier (an unknown one is an error)."""
    chosen = checked_model(store, model)
    if chosen is None:
        return []
    checked_tier(store, chosen, tier)
    names = [chosen]
    sql = """SELECT s.contact_id, s.model, s.score, s.tier, s.grade,
                    trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')),
                    c.job_title, c.company, c.email
             FROM scores s LEFT JOIN contacts c USING (contact_id)
             WHERE s.model = ? {} ORDER BY s.score DESC, s.contact_id LIMIT ?""".format(
        "AND s.tier = ?" if tier else "")
    params: list[Any] = [names[0]] + ([tier] if tier else []) + [n]
    return [TopRow(*r) for r in store.con.execute(sql, params).fetchall()]
