"""Discretise every column into a few bins learned on the training table.

Numerics and datetimes get 10 quantile bins (right-closed, the first one closed on both
sides); numerics with at most 10 distinct values keep their values. Categoricals keep
their 10 most frequent training categories. Values the training data never had (out of
range, rare categories) fall into ``_other_``; nulls are a bin of their own. Every table
then becomes a matrix of small integer codes, so joint frequencies of pairs and triples
are one ``np.bincount`` each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import Column, as_float, as_text, codes_of, format_value

N_BINS = 10
OTHER = "_other_"
NULL = "(null)"


@dataclass
class ColumnBins:
    """How one column is binned: either numeric ``edges`` or a list of ``values``.

    Codes run ``0 .. len(labels) - 1``; the last two are ``_other_`` and null.
    """

    column: Column
    edges: np.ndarray | None  # quantile edges (numeric/datetime with many values)
    values: list  # kept categories, or kept distinct numbers
    labels: list[str]

    @property
    def size(self) -> int:
        return len(self.labels)


def fit_bins(train: pd.DataFrame, columns: list[Column], n_bins: int = N_BINS) -> list[ColumnBins]:
    """Learn the bins of every column from the training table."""
    return [_fit_column(train[c.name], c, n_bins) for c in columns]


def _fit_column(s: pd.Series, col: Column, n_bins: int) -> ColumnBins:
    if col.kind in ("numeric", "datetime"):
        x = as_float(s, col.kind)
        x = x[np.isfinite(x)]  # infinities land in _other_
        distinct = np.unique(x)
        if len(distinct) > n_bins:
            edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
            labels = [
                ("[" if i == 0 else "(") + f"{format_value(lo, col.kind)}, {format_value(hi, col.kind)}]"
                for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
            ]
            return ColumnBins(col, edges, [], labels + [OTHER, NULL])
        values = distinct.tolist()
        return ColumnBins(col, None, values, [format_value(v, col.kind) for v in values] + [OTHER, NULL])
    counts = as_text(s).value_counts(dropna=True)
    # ties broken by value so the bins do not depend on row order
    counts = counts.reset_index().sort_values(["count", counts.index.name or "index"], ascending=[False, True])
    values = counts.iloc[:n_bins, 0].astype(str).tolist()
    return ColumnBins(col, None, values, values + [OTHER, NULL])


def encode(df: pd.DataFrame, bins: list[ColumnBins]) -> np.ndarray:
    """Bin codes of ``df``: an int64 matrix of shape (rows, columns)."""
    out = np.empty((len(df), len(bins)), dtype=np.int64)
    for j, b in enumerate(bins):
        out[:, j] = _encode_column(df[b.column.name], b)
    return out


def _encode_column(s: pd.Series, b: ColumnBins) -> np.ndarray:
    other, null = b.size - 2, b.size - 1
    if b.column.kind in ("numeric", "datetime"):
        x = as_float(s, b.column.kind)
        isnull = np.isnan(x)
        if b.edges is not None:
            e = b.edges
            code = np.searchsorted(e[1:-1], x, side="left")  # (e_i, e_i+1], first bin includes e_0
            code[(x < e[0]) | (x > e[-1])] = other
        else:
            vals = np.asarray(b.values, dtype=np.float64)
            pos = np.clip(np.searchsorted(vals, x), 0, max(len(vals) - 1, 0))
            hit = vals[pos] == x if len(vals) else np.zeros(len(x), bool)
            code = np.where(hit, pos, other)
        code[isnull] = null
        return code.astype(np.int64)
    text = as_text(s)
    code = codes_of(text, b.values)
    code[code < 0] = other
    code[text.isna().to_numpy()] = null
    return code
