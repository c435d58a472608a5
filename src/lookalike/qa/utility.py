"""ML utility: does a model trained on synthetic data predict as well as one trained on real data?

LightGBM learns ``target`` from the other columns, once on the synthetic table and once on
the training table; both are scored on the holdout, which neither has seen. Binary
targets are scored by AUC, multiclass by accuracy and macro F1, numeric targets by R².
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from ._lgbm import fit_lgbm, predict
from ._optional import require
from .columns import Column, as_float, as_text, codes_of
from .discriminator import features

MAX_ROWS = 50_000
Task = Literal["binary", "multiclass", "regression"]


@dataclass
class UtilityResult:
    task: Task
    metric: str  # "auc", "accuracy" or "r2"
    synthetic: float  # trained on synthetic, scored on holdout
    reference: float  # trained on train, scored on holdout
    synthetic_f1_macro: float | None = None
    reference_f1_macro: float | None = None


def check_target(target: str, train: pd.DataFrame) -> None:
    if target not in train.columns:
        shown = ", ".join(repr(c) for c in list(train.columns)[:10])
        raise InputError(
            f"target column '{target}' is not in the training table (columns: {shown}"
            f"{' ...' if train.shape[1] > 10 else ''}); pass one of its columns as target"
        )
    if train[target].notna().sum() < 2:
        raise InputError(f"target column '{target}': fewer than 2 non-null training values; pick another target")


def task_of(column: Column, train: pd.DataFrame) -> Task:
    s = train[column.name]
    if column.kind == "categorical" or (column.kind == "numeric" and s.nunique() <= 2):
        return "binary" if s.nunique() <= 2 else "multiclass"
    return "regression"


def _xy(df, columns, target, task, classes, train, rng):
    df = df.iloc[rng.permutation(len(df))[:MAX_ROWS]] if len(df) > MAX_ROWS else df
    if task == "regression":
        y = as_float(df[target.name], target.kind)
    else:
        y = codes_of(as_text(df[target.name]), classes).astype(np.float64)
        y[y < 0] = np.nan  # null or a class the training data never had
    keep = ~np.isnan(y)
    (x,) = features([df.iloc[keep]], columns, train)
    return x, y[keep]


def utility(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    columns: list[Column],
    target: str,
    rng: np.random.Generator,
    seed: int,
) -> UtilityResult:
    """Score models trained on synthetic vs training data on the holdout."""
    metrics = require("sklearn.metrics")
    tcol = next(c for c in columns if c.name == target)
    feats = [c for c in columns if c.name != target]
    task = task_of(tcol, train)
    classes = None
    if task != "regression":
        classes = as_text(train[target]).value_counts().index.astype(str).tolist()
    x_test, y_test = _xy(holdout, feats, tcol, task, classes, train, rng)
    if len(y_test) == 0:
        raise InputError(f"target column '{target}': no holdout row has a target value seen in training")

    scores = []
    for source in (synthetic, train):
        x, y = _xy(source, feats, tcol, task, classes, train, rng)
        if len(y) < 10 or (task != "regression" and len(np.unique(y)) < 2):
            scores.append((float("nan"), None))
            continue
        if task == "binary":
            p = predict(fit_lgbm(x, y, "binary", seed, rng), x_test)
            ok = len(np.unique(y_test)) == 2
            scores.append((float(metrics.roc_auc_score(y_test, p)) if ok else float("nan"), None))
        elif task == "multiclass":
            p = predict(fit_lgbm(x, y, "multiclass", seed, rng, num_class=len(classes)), x_test)
            pred = p.argmax(1)
            scores.append(
                (
                    float(metrics.accuracy_score(y_test, pred)),
                    float(metrics.f1_score(y_test, pred, average="macro", zero_division=0)),
                )
            )
        else:
            p = predict(fit_lgbm(x, y, "regression", seed, rng), x_test)
            scores.append((float(metrics.r2_score(y_test, p)), None))
    metric = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}[task]
    return UtilityResult(task, metric, scores[0][0], scores[1][0], scores[0][1], scores[1][1])
