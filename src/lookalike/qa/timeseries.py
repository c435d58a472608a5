"""Time-series QA: the figures that say whether long regular series kept their shape.

Every function takes a long table (``subject``, ``time``, ``value`` columns named by the
caller) and works per subject on the calendar grid of step ``step`` (days for daily data):
a lag of k means k grid steps, missing steps are skipped, and each series' mean and
variance come from its observed steps.

- ``acf``: the median over subjects of the autocorrelation at each lag;
- ``calendar_profile``: mean value by weekday (or month, hour) relative to the subject's mean;
- ``value_accuracy``: 1 - TVD of the binned values (10 quantile bins of the reference);
- ``static_level_accuracy``: 1 - TVD of (subject attribute, binned subject mean level);
- ``calendar_checks``: dates on the grid, in order, unique; the share of one-step steps;
- ``forecast_mae``: a lag-feature regressor fitted on one set of series, scored on another
  (train on synthetic, test on real);
- ``seasonal_naive``: the last real season repeated, the baseline a forecast must beat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86_400.0


def _grid(times: pd.Series, step: float) -> np.ndarray:
    secs = pd.to_datetime(times).astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
    return np.round(secs / step).astype(np.int64)


def dense_series(df: pd.DataFrame, subject: str, time: str, value: str, step: float = DAY
                 ) -> dict[object, np.ndarray]:
    """Each subject's values on its dense grid (NaN where a step is missing)."""
    out = {}
    g = _grid(df[time], step)
    v = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype="float64")
    for key, idx in pd.Series(np.arange(len(df))).groupby(df[subject].to_numpy(), sort=False):
        gi, vi = g[idx.to_numpy()], v[idx.to_numpy()]
        if not len(gi):
            continue
        arr = np.full(int(gi.max() - gi.min()) + 1, np.nan)
        arr[gi - gi.min()] = vi
        out[key] = arr
    return out


def series_acf(x: np.ndarray, lag: int) -> float:
    """Autocorrelation at ``lag`` grid steps; missing steps skipped; mean and variance of
    the observed steps. NaN when the series is too short."""
    ok = ~np.isnan(x)
    if ok.sum() < 3 or lag >= len(x):
        return float("nan")
    m, var = np.nanmean(x), np.nanvar(x)
    if not var > 0:
        return float("nan")
    a, b = x[:-lag] - m, x[lag:] - m
    both = ~np.isnan(a) & ~np.isnan(b)
    if both.sum() < 2:
        return float("nan")
    return float(np.mean(a[both] * b[both]) / var)


def acf(df: pd.DataFrame, subject: str, time: str, value: str, lags: tuple[int, ...] = (1, 7, 14, 28, 364),
        step: float = DAY) -> dict[int, float | None]:
    """Median per-subject autocorrelation at each lag (grid steps)."""
    series = dense_series(df, subject, time, value, step)
    out = {}
    for k in lags:
        vals = [series_acf(x, k) for x in series.values()]
        vals = [v for v in vals if not np.isnan(v)]
        out[k] = float(np.median(vals)) if vals else None
    return out


def calendar_profile(df: pd.DataFrame, subject: str, time: str, value: str, by: str = "day_of_week") -> dict[int, float]:
    """Mean value per calendar slot (``by``: a pandas datetime attribute) relative to each
    subject's mean, averaged over subjects: {slot: ratio}."""
    t = pd.to_datetime(df[time])
    v = pd.to_numeric(df[value], errors="coerce")
    rel = v / v.groupby(df[subject].to_numpy()).transform("mean")
    slot = getattr(t.dt, by)
    per = rel.groupby([df[subject].to_numpy(), slot.to_numpy()]).mean()
    return {int(k): float(x) for k, x in per.groupby(level=1).mean().items()}


def _tvd_accuracy(ref: np.ndarray, other: np.ndarray) -> float:
    keys = np.union1d(np.unique(ref), np.unique(other))
    p = pd.Series(ref).value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
    q = pd.Series(other).value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
    return float(1 - 0.5 * np.abs(p - q).sum())


def _bins(ref: np.ndarray, n: int = 10) -> np.ndarray:
    return np.unique(np.nanquantile(ref, np.linspace(0, 1, n + 1)[1:-1]))


def value_accuracy(ref: pd.Series, other: pd.Series, n_bins: int = 10) -> float:
    """1 - TVD of values binned on the reference's quantiles."""
    r = pd.to_numeric(ref, errors="coerce").dropna().to_numpy(dtype="float64")
    o = pd.to_numeric(other, errors="coerce").dropna().to_numpy(dtype="float64")
    edges = _bins(r, n_bins)
    return _tvd_accuracy(np.searchsorted(edges, r, side="right"), np.searchsorted(edges, o, side="right"))


def subject_accuracy(ref: pd.Series, other: pd.Series, n_bins: int = 5) -> float:
    """1 - TVD of a per-subject figure (length, start date as days), binned on the reference."""
    return value_accuracy(ref, other, n_bins)


def static_level_accuracy(ref: pd.DataFrame, other: pd.DataFrame, attribute: str, level: str,
                          n_bins: int = 3) -> float:
    """1 - TVD of (a subject attribute, the subject's mean level binned on the reference)."""
    edges = _bins(pd.to_numeric(ref[level]).to_numpy(dtype="float64"), n_bins)

    def key(df: pd.DataFrame) -> np.ndarray:
        b = np.searchsorted(edges, pd.to_numeric(df[level]).to_numpy(dtype="float64"), side="right")
        return np.array([f"{a}|{x}" for a, x in zip(df[attribute].astype(str), b)])

    return _tvd_accuracy(key(ref), key(other))


def calendar_checks(df: pd.DataFrame, subject: str, time: str, step: float = DAY) -> dict[str, float]:
    """Dates on the grid, in their rows' order and unique per subject; share of one-step steps."""
    t = pd.to_datetime(df[time])
    secs = t.astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
    on_grid = float(np.mean(np.mod(secs, step) == 0)) if len(secs) else 1.0
    same = df[subject].to_numpy()[1:] == df[subject].to_numpy()[:-1]
    d = np.diff(secs)[same]
    return {"on_grid": on_grid, "ordered": float(np.mean(d > 0)) if len(d) else 1.0,
            "unique": float(1 - df.duplicated([subject, time]).mean()) if len(df) else 1.0,
            "one_step_share": float(np.mean(d == step)) if len(d) else float("nan")}


def lag_features(series: dict[object, np.ndarray], lags: tuple[int, ...] = (1, 7, 14, 28, 364),
                 start: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of every observed step with all its lags observed, lags in grid steps."""
    xs, ys = [], []
    for x in series.values():
        m = max(lags)
        if len(x) <= m:
            continue
        y = x[m:]
        X = np.column_stack([x[m - k:len(x) - k] for k in lags] + [np.arange(m, len(x)) % 7])
        ok = ~np.isnan(y) & ~np.isnan(X).any(1)
        xs.append(X[ok])
        ys.append(y[ok])
    if not xs:
        return np.zeros((0, len(lags) + 1)), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)


def forecast_mae(fit_on: dict[object, np.ndarray], test_on: dict[object, np.ndarray],
                 lags: tuple[int, ...] = (1, 7, 14, 28, 364), seed: int = 0) -> float | None:
    """MAE on ``test_on`` of a gradient-boosted lag regressor fitted on ``fit_on``
    (train-synthetic-test-real when ``fit_on`` is synthetic)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = lag_features(fit_on, lags)
    Xt, yt = lag_features(test_on, lags)
    if len(y) < 50 or not len(yt):
        return None
    model = HistGradientBoostingRegressor(max_iter=200, random_state=seed, loss="absolute_error").fit(X, y)
    return float(np.mean(np.abs(model.predict(Xt) - yt)))


def seasonal_naive(history: np.ndarray, steps: int, season: int = 7) -> np.ndarray:
    """The last observed season repeated ``steps`` times (missing steps: the value before)."""
    last = pd.Series(history[-season:]).ffill().bfill().to_numpy()
    return np.resize(last, steps)
