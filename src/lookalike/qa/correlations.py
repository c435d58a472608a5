"""Association matrices on the binned data: Cramér's V for every pair of columns.

Working on bins makes one measure fit numerics, datetimes and categoricals alike, so
train and synthetic matrices can be compared side by side.
"""

from __future__ import annotations

import itertools

import numpy as np

from .accuracy import frequencies


def cramers_v(codes: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Symmetric (columns, columns) matrix of Cramér's V, 1 on the diagonal."""
    p = len(sizes)
    out = np.eye(p)
    n = len(codes)
    if n == 0:
        return out
    for i, j in itertools.combinations(range(p), 2):
        table = (frequencies(codes, sizes, (i, j)) * n).reshape(sizes[i], sizes[j])
        table = table[table.sum(1) > 0][:, table.sum(0) > 0]
        k = min(table.shape) - 1
        if k < 1:
            v = 0.0
        else:
            expected = np.outer(table.sum(1), table.sum(0)) / n
            chi2 = float(((table - expected) ** 2 / expected).sum())
            v = float(np.sqrt(min(chi2 / (n * k), 1.0)))
        out[i, j] = out[j, i] = v
    return out
