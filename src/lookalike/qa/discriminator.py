"""Discriminator: can a LightGBM classifier tell synthetic rows from training rows?

An AUC near 0.5 means it cannot; near 1.0 means the synthetic rows are easy to spot. What
gives the synthetic data away: the columns the classifier leans on most, each scored by a
classifier that sees that column alone (and the top pairs, by one that sees just the two),
and the rows it is most sure about.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._lgbm import fit_lgbm, predict
from ._optional import require
from .columns import Column, as_float, as_text, codes_of

MAX_ROWS = 10_000  # per class, like the privacy samples
MIN_ROWS = 20  # per class; fewer cannot train and test a classifier
MAX_CATEGORIES = 255
MAX_COLUMN_MODELS = 20  # single-column classifiers, for the columns the full one uses most
MAX_PAIR_COLUMNS = 5  # pairs among the top columns: 10 two-column classifiers
SMALL_MODEL_ROUNDS = 60  # one or two features converge fast; keeps wide tables quick


@dataclass
class DiscriminatorResult:
    auc: float
    n_rows: int  # per class
    most_fake: pd.DataFrame  # held-out synthetic rows it is surest are synthetic
    fake_scores: np.ndarray  # their P(synthetic)
    most_real: pd.DataFrame  # held-out training rows it is surest are real
    real_scores: np.ndarray
    column_auc: dict[str, float] = field(default_factory=dict)  # column → AUC alone, descending
    pair_auc: list[tuple[str, str, float]] = field(default_factory=list)  # descending


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

    column_auc, pair_auc = _giveaways(booster, x, y, fit_idx, test_idx, [c.name for c in columns], seed)
    return DiscriminatorResult(
        auc, n, most_fake, p_syn[fake_order], most_real, p_trn[real_order], column_auc, pair_auc
    )


def _giveaways(
    booster,
    x: pd.DataFrame,
    y: np.ndarray,
    fit_idx: np.ndarray,
    test_idx: np.ndarray,
    names: list[str],
    seed: int,
) -> tuple[dict[str, float], list[tuple[str, str, float]]]:
    """Held-out AUC of classifiers that see one column (or two) only, on the same split.

    Only the columns the full classifier used (by gain) are tried, at most
    ``MAX_COLUMN_MODELS``; pairs among the top ``MAX_PAIR_COLUMNS``. Every small model
    gets the same early-stopping split from a fresh generator seeded with ``seed``, so
    the figures are comparable and the caller's generator is left untouched.
    """
    roc_auc = require("sklearn.metrics").roc_auc_score
    gain = booster.feature_importance("gain")
    ranked = [j for j in np.argsort(-gain, kind="stable") if gain[j] > 0]

    def auc_of(which: list[int]) -> float:
        cols = [x.columns[j] for j in which]
        small = fit_lgbm(x.iloc[fit_idx][cols], y[fit_idx], "binary", seed, np.random.default_rng(seed),
                         max_rounds=SMALL_MODEL_ROUNDS)
        return round(float(roc_auc(y[test_idx], predict(small, x.iloc[test_idx][cols]))), 4)

    single = {j: auc_of([j]) for j in ranked[:MAX_COLUMN_MODELS]}
    columns = {names[j]: a for j, a in sorted(single.items(), key=lambda t: -t[1])}
    pairs = [(names[i], names[j], auc_of([i, j])) for i, j in itertools.combinations(ranked[:MAX_PAIR_COLUMNS], 2)]
    pairs.sort(key=lambda t: -t[2])
    return columns, pairs
