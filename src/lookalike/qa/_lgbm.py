"""One LightGBM recipe shared by the discriminator and the ML-utility check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._optional import require


def fit_lgbm(
    x: pd.DataFrame,
    y: np.ndarray,
    objective: str,
    seed: int,
    rng: np.random.Generator,
    num_class: int = 1,
    max_rounds: int = 500,
):
    """Fit a booster on ``x, y`` with early stopping on a random 10% of the rows."""
    lgb = require("lightgbm")
    order = rng.permutation(len(x))
    n_val = max(1, len(x) // 10)
    val, fit = order[:n_val], order[n_val:]
    params = {
        "objective": objective,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.8,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,  # 2+ threads crawl when another process holds a core
        "verbose": -1,
    }
    if num_class > 2:
        params["num_class"] = num_class
    train_set = lgb.Dataset(x.iloc[fit], y[fit])
    val_set = lgb.Dataset(x.iloc[val], y[val], reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=max_rounds,
        valid_sets=[val_set],
        callbacks=[lgb.early_stopping(20, verbose=False)],
    )


def predict(booster, x: pd.DataFrame) -> np.ndarray:
    return booster.predict(x, num_iteration=booster.best_iteration or None)
