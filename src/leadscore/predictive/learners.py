"""The two candidate learners: LightGBM and a regularised logistic regression.

Both take the matrix from ``features.encode`` (numbers, category codes, NaN for missing) and give
a raw score in log-odds, per-feature contributions to it (for the factors a rep reads), and a
text form that needs no pickle: LightGBM's own model text, or JSON for the regression.

Why these defaults: they are textbook settings (learning rate 0.05, 31 leaves, early stopping on
the validation rows; L2-regularised regression on standardised inputs with counts log-scaled),
chosen once and not tuned to any one data set.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from leadscore.predictive.features import FeaturePlan

LGB_PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "max_cat_to_onehot": 8, "cat_smooth": 10.0, "deterministic": True, "force_row_wise": True,
    "verbosity": -1,
}
MAX_ROUNDS = 1000
EARLY_STOPPING = 50
LOGISTIC_C = 1.0
CONTRIB_CHUNK = 65_536
#: The regression sees numbers both log-scaled and as they are, clipped to these quantiles.
CLIP_QUANTILE = 0.01


class Learner(Protocol):
    kind: str

    def raw_score(self, x: np.ndarray) -> np.ndarray: ...

    def contributions(self, x: np.ndarray) -> np.ndarray: ...

    def importance(self) -> np.ndarray: ...

    def score_with_contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def _threads() -> int:
    """Half the cores: LightGBM's OpenMP threads busy-wait, and on cores shared with DuckDB or other
    processes a full complement ran 4× slower than one thread (measured on a busy 2-core machine).
    Prediction (no busy-waiting between rounds) uses every core."""
    return max(1, min((os.cpu_count() or 2) // 2, 8))


class GradientBoosting:
    """LightGBM on the encoded matrix; categories use LightGBM's own categorical splits."""

    kind = "lightgbm"

    def __init__(self, booster: Any):
        self.booster_ = booster
        self._paths: tuple[list[np.ndarray], list[np.ndarray]] | None = None

    @classmethod
    def fit(cls, plan: FeaturePlan, x: np.ndarray, y: np.ndarray, *, seed: int,
            valid: tuple[np.ndarray, np.ndarray] | None = None, rounds: int | None = None) -> GradientBoosting:
        """Train with early stopping on ``valid``, or for exactly ``rounds`` rounds (the refit)."""
        import lightgbm as lgb

        params = {**LGB_PARAMS, "seed": seed, "num_threads": _threads()}
        cats = [j for j, f in enumerate(plan.features) if f.kind == "category"]
        train = lgb.Dataset(x, label=y.astype(np.float64), feature_name=[f"f{j}" for j in range(x.shape[1])],
                            categorical_feature=cats, free_raw_data=True, params={"verbosity": -1})
        if valid is not None:
            val = lgb.Dataset(valid[0], label=valid[1].astype(np.float64), reference=train)
            booster = lgb.train(params, train, num_boost_round=rounds or MAX_ROUNDS, valid_sets=[val],
                                callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
        else:
            booster = lgb.train(params, train, num_boost_round=rounds or MAX_ROUNDS)
        return cls(booster)

    @property
    def rounds(self) -> int:
        best = int(self.booster_.best_iteration or 0)
        return best if best > 0 else int(self.booster_.current_iteration())

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(np.ascontiguousarray(x), raw_score=True, num_iteration=self.rounds,
                                                num_threads=os.cpu_count() or 1))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contributions in log-odds by path attribution (Saabas): along each tree's
        decision path, the change of the expected score at a split is credited to its feature.

        Why not LightGBM's exact SHAP (``pred_contrib``): it costs ~150 µs per lead for a small
        model, minutes for a million leads, while this is a table lookup per tree (the leaf index
        comes from the same traversal as a prediction). Both add up exactly to the raw score minus
        the average; they differ in how credit is shared between interacting features.
        """
        return self.score_with_contributions(x)[1]

    def score_with_contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw score and contributions from ONE pass of the trees (``pred_leaf``).

        The raw score is the sum of the reached leaves' values over the trees: LightGBM folds its
        init score (the training average with ``boost_from_average``) into the first tree's leaves,
        so that sum is exactly ``predict(raw_score=True)`` (to rounding); running the trees a
        second time for it cost as much as the contributions did.
        """
        tables = self._pair_tables()
        raw = np.zeros(x.shape[0], dtype=np.float64)
        out = np.zeros((x.shape[0], x.shape[1]), dtype=np.float32)
        buffer = np.empty((min(CONTRIB_CHUNK, x.shape[0]), x.shape[1]), dtype=np.float32)
        for start in range(0, x.shape[0], CONTRIB_CHUNK):
            chunk = np.ascontiguousarray(x[start:start + CONTRIB_CHUNK])
            leaves = np.asarray(self.booster_.predict(chunk, pred_leaf=True, num_iteration=self.rounds,
                                                      num_threads=os.cpu_count() or 1)).reshape(len(chunk), -1)
            acc, got = out[start:start + CONTRIB_CHUNK], buffer[: len(chunk)]
            score = raw[start:start + CONTRIB_CHUNK]
            for (first, second, width), table, values in tables:
                index = leaves[:, first] * width + (leaves[:, second] if second >= 0 else 0)
                np.take(table, index, axis=0, out=got)
                acc += got
                score += values[index]
        return raw, out.astype(np.float64)

    def _pair_tables(self) -> list[tuple[tuple[int, int, int], np.ndarray, np.ndarray]]:
        """The leaf tables of two trees at a time (every pair of leaves summed): half the lookups.

        Each pair has its credit table (leaf pairs × features, float32) and the pair's summed leaf
        values (float64: the raw score needs full precision)."""
        paths, values = self._leaf_paths()
        pairs = []
        for t in range(0, len(paths), 2):
            if t + 1 < len(paths):
                a, b = paths[t], paths[t + 1]
                table = (a[:, None, :] + b[None, :, :]).reshape(-1, a.shape[1])
                summed = (values[t][:, None] + values[t + 1][None, :]).reshape(-1)
                pairs.append(((t, t + 1, b.shape[0]), np.ascontiguousarray(table), summed))
            else:
                pairs.append(((t, -1, 1), paths[t], values[t]))
        return pairs

    def _leaf_paths(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """For each tree, a (leaves × features) table of what reaching a leaf credits to each
        feature, and the leaves' output values."""
        if self._paths is not None:
            return self._paths
        dump = self.booster_.dump_model(num_iteration=self.rounds)
        n_features = len(dump["feature_names"])
        paths, values = [], []
        for tree in dump["tree_info"]:
            n_leaves = max(int(tree["num_leaves"]), 1)
            table = np.zeros((n_leaves, n_features), dtype=np.float32)
            leaf_values = np.zeros(n_leaves, dtype=np.float64)
            stack: list[tuple[dict[str, Any], dict[int, float]]] = [(tree["tree_structure"], {})]
            while stack:
                node, credit = stack.pop()
                if "split_feature" not in node:
                    leaf = int(node.get("leaf_index", 0))
                    leaf_values[leaf] = float(node["leaf_value"])
                    for feature, value in credit.items():
                        table[leaf, feature] = value
                    continue
                feature, here = int(node["split_feature"]), float(node["internal_value"])
                for child in (node["left_child"], node["right_child"]):
                    there = float(child["leaf_value"] if "split_feature" not in child else child["internal_value"])
                    stack.append((child, {**credit, feature: credit.get(feature, 0.0) + there - here}))
            paths.append(table)
            values.append(leaf_values)
        self._paths = (paths, values)
        return self._paths

    def importance(self) -> np.ndarray:
        gain = np.asarray(self.booster_.feature_importance("gain", iteration=self.rounds), dtype=np.float64)
        return gain / gain.sum() if gain.sum() > 0 else gain

    def to_text(self) -> str:
        return str(self.booster_.model_to_string(num_iteration=self.rounds))

    @classmethod
    def from_text(cls, text: str) -> GradientBoosting:
        import lightgbm as lgb

        return cls(lgb.Booster(model_str=text))


class Logistic:
    """L2-regularised logistic regression on standardised inputs.

    Numbers become ``sign(x)·log(1+|x|)`` (counts and sizes are heavy-tailed), missing values the
    training median plus a missing flag; categories one column per level. Every design column is
    standardised, so a contribution ``coef × z`` is measured against an average contact.
    """

    kind = "logistic"

    def __init__(self, layout: list[dict[str, Any]], mean: np.ndarray, std: np.ndarray, coef: np.ndarray,
                 intercept: float):
        self.layout_, self.mean_, self.std_, self.coef_, self.intercept_ = layout, mean, std, coef, intercept

    @staticmethod
    def _layout(plan: FeaturePlan, x: np.ndarray) -> list[dict[str, Any]]:
        layout: list[dict[str, Any]] = []
        for j, f in enumerate(plan.features):
            col = x[:, j]
            if f.kind == "category":
                layout += [{"feature": j, "kind": "level", "code": k} for k in range(len(f.levels) + 1)]
                continue
            finite = col[~np.isnan(col)]
            median = float(np.median(_squash(finite))) if finite.size else 0.0
            layout.append({"feature": j, "kind": "number", "median": median})
            if finite.size:
                low, high = (float(v) for v in np.quantile(finite, [CLIP_QUANTILE, 1 - CLIP_QUANTILE]))
                if high > low:
                    layout.append({"feature": j, "kind": "linear", "low": low, "high": high,
                                   "median": float(np.median(finite))})
            if finite.size < col.size:
                layout.append({"feature": j, "kind": "missing"})
        return layout

    def _column(self, item: dict[str, Any], x: np.ndarray) -> np.ndarray:
        col = x[:, item["feature"]]
        if item["kind"] == "level":
            return np.asarray(col == item["code"], dtype=np.float64)
        if item["kind"] == "missing":
            return np.isnan(col).astype(np.float64)
        if item["kind"] == "linear":
            return np.clip(np.where(np.isnan(col), item["median"], col), item["low"], item["high"])
        return np.where(np.isnan(col), item["median"], _squash(col))

    def _design(self, x: np.ndarray) -> np.ndarray:
        d = np.empty((x.shape[0], len(self.layout_)), dtype=np.float64)
        for k, item in enumerate(self.layout_):
            d[:, k] = self._column(item, x)
        return d

    @classmethod
    def fit(cls, plan: FeaturePlan, x: np.ndarray, y: np.ndarray, *, seed: int) -> Logistic:
        from sklearn.linear_model import LogisticRegression

        layout = cls._layout(plan, x)
        empty = cls(layout, np.zeros(len(layout)), np.ones(len(layout)), np.zeros(len(layout)), 0.0)
        d = empty._design(x)
        mean, std = d.mean(axis=0), d.std(axis=0)
        std[std == 0] = 1.0
        model = LogisticRegression(C=LOGISTIC_C, max_iter=2000, random_state=seed)
        model.fit((d - mean) / std, y.astype(int))
        return cls(layout, mean, std, model.coef_[0].astype(np.float64), float(model.intercept_[0]))

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        return self.score_with_contributions(x)[0]

    def score_with_contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = self.contributions(x)
        return np.asarray(parts.sum(axis=1) + self.intercept_), parts

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """``coef × z`` summed per feature, one design column at a time (a million leads never
        need the whole standardised design in memory)."""
        out = np.zeros((x.shape[0], x.shape[1]), dtype=np.float64)
        for k, item in enumerate(self.layout_):
            if self.coef_[k] != 0:
                out[:, item["feature"]] += self.coef_[k] * (self._column(item, x) - self.mean_[k]) / self.std_[k]
        return out

    def importance(self) -> np.ndarray:
        n_features = 1 + max((item["feature"] for item in self.layout_), default=-1)
        out = np.zeros(n_features)
        for k, item in enumerate(self.layout_):
            out[item["feature"]] += abs(self.coef_[k])
        return out / out.sum() if out.sum() > 0 else out

    def to_json(self) -> dict[str, Any]:
        return {"layout": self.layout_, "mean": self.mean_.tolist(), "std": self.std_.tolist(),
                "coef": self.coef_.tolist(), "intercept": self.intercept_}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Logistic:
        return cls(list(data["layout"]), np.asarray(data["mean"]), np.asarray(data["std"]),
                   np.asarray(data["coef"]), float(data["intercept"]))


def _squash(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))
