"""Discriminator: can a LightGBM classifier tell synthetic rows from training rows?

An AUC near 0.5 means it cannot; near 1.0 means the synthetic rows are easy to spot. The
rows it is most sure about show what gives the synthetic data away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._lgbm import fit_lgbm, predict
from ._optional import require
from .columns import Column, as_float, as_text, codes_of

MAX_ROWS = 10_000  # per class, like the privacy samples
MIN_ROWS = 20  # per class; fewer cannot train and test a classifier
MAX_CATEGORIES = 255


@dataclass
class DiscriminatorResult:
    auc: float
    n_rows: int  # per class
    most_fake: pd.DataFrame  # held-out synthetic rows it is surest are synthetic
    fake_scores: np.ndarray  # their P(synthetic)
    most_real: pd.DataFrame  # held-out training rows it is surest are real
    real_scores: np.ndarray


def features(frames: list[pd.DataFrame], columns: list[Column], train: pd.DataFrame) -> list[pd.DataFrame]:
    """LightGBM features: numerics as floats, categoricals as codes of the training categories."""
    out: list[dict[str, object]] = [{} for _ in frames]
    for c in columns:
        if c.kind == "categorical":
            cats = as_text(train[c.name]).value_counts().index[:MAX_CATEGORIES].astype(str).tolist()
            for o, df in zip(out, frames):
                code = codes_of(as_text(df[c.name]), cats)
                code[code < 0] = len(cats)  # null, rare or unseen
                o[c.name] = pd.Categorical.from_codes(code, categories=cats + ["_other_"])
        else:
            for o, df in zip(out, frames):
                o[c.name] = as_float(df[c.name], c.kind)
    names = [f"f{i}" for i in range(len(columns))]  # LightGBM rejects some characters in names
    return [pd.DataFrame(dict(zip(names, o.values())), index=df.index) for o, df in zip(out, frames)]


def discriminate(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[Column],
    rng: np.random.Generator,
    seed: int,
    n_show: int = 5,
) -> DiscriminatorResult | None:
    """Train a balanced train-vs-synthetic classifier on 80% and score AUC on 20%.

    ``None`` when either table has fewer than ``MIN_ROWS`` rows.
    """
    metrics = require("sklearn.metrics")

    n = min(len(train), len(synthetic), MAX_ROWS)
    if n < MIN_ROWS:
        return None
    trn = train.iloc[rng.choice(len(train), n, replace=False)]
    syn = synthetic.iloc[rng.choice(len(synthetic), n, replace=False)]
    x_trn, x_syn = features([trn, syn], columns, train)
    x = pd.concat([x_trn, x_syn], ignore_index=True)
    y = np.r_[np.zeros(n), np.ones(n)]
    order = rng.permutation(2 * n)
    cut = int(0.8 * len(order))
    fit_idx, test_idx = order[:cut], order[cut:]
    booster = fit_lgbm(x.iloc[fit_idx], y[fit_idx], "binary", seed, rng)
    p = predict(booster, x.iloc[test_idx])
    auc = float(metrics.roc_auc_score(y[test_idx], p))

    # which held-out rows look most fake / most real
    test_syn = test_idx[y[test_idx] == 1]
    test_trn = test_idx[y[test_idx] == 0]
    p_syn = predict(booster, x.iloc[test_syn])
    p_trn = predict(booster, x.iloc[test_trn])
    fake_order = np.argsort(-p_syn, kind="stable")[:n_show]
    real_order = np.argsort(p_trn, kind="stable")[:n_show]
    most_fake = syn.iloc[test_syn[fake_order] - n]
    most_real = trn.iloc[test_trn[real_order]]
    return DiscriminatorResult(auc, n, most_fake, p_syn[fake_order], most_real, p_trn[real_order])
