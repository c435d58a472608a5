"""Accuracy: how closely the synthetic table reproduces the training table's distributions.

Accuracy of one distribution is ``1 - TVD`` (half the L1 distance) between relative bin
frequencies. We score every column (univariate), every pair (bivariate) and up to 1,000
random triples (trivariate); overall accuracy is the mean of univariate and bivariate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MAX_TRIPLES = 1000


@dataclass
class AccuracyResult:
    """Accuracies of one table against the training table, with per-column detail."""

    univariate: np.ndarray  # (columns,)
    pairs: list[tuple[int, int]]
    bivariate: np.ndarray  # (pairs,)
    trivariate: np.ndarray  # (triples,)

    @property
    def overall(self) -> float:
        return float((self.univariate.mean() + self.mean_bivariate) / 2)

    @property
    def mean_bivariate(self) -> float:
        # a one-column table has no pairs: its bivariate accuracy is its univariate one
        return float(self.bivariate.mean()) if len(self.bivariate) else float(self.univariate.mean())

    @property
    def mean_trivariate(self) -> float:
        return float(self.trivariate.mean()) if len(self.trivariate) else self.mean_bivariate

    def column_bivariate(self, n_columns: int) -> np.ndarray:
        """Mean accuracy of the pairs that involve each column."""
        total = np.zeros(n_columns)
        count = np.zeros(n_columns)
        for (i, j), a in zip(self.pairs, self.bivariate):
            total[[i, j]] += a
            count[[i, j]] += 1
        return np.divide(total, count, out=self.univariate.copy(), where=count > 0)


def frequencies(codes: np.ndarray, sizes: list[int], cols: tuple[int, ...]) -> np.ndarray:
    """Relative joint frequencies of ``cols``: a flat vector over all bin combinations."""
    combined = np.zeros(len(codes), dtype=np.int64)
    n_cells = 1
    for c in cols:
        combined = combined * sizes[c] + codes[:, c]
        n_cells *= sizes[c]
    return np.bincount(combined, minlength=n_cells) / max(len(codes), 1)


def _accuracy(ref: np.ndarray, other: np.ndarray, sizes: list[int], cols: tuple[int, ...]) -> float:
    return 1.0 - 0.5 * float(np.abs(frequencies(ref, sizes, cols) - frequencies(other, sizes, cols)).sum())


def choose_triples(n_columns: int, rng: np.random.Generator, limit: int = MAX_TRIPLES) -> list[tuple[int, int, int]]:
    """All triples of columns, or ``limit`` distinct random ones when there are more."""
    n_all = n_columns * (n_columns - 1) * (n_columns - 2) // 6
    if n_all <= limit:
        return list(itertools.combinations(range(n_columns), 3))
    chosen: set[tuple[int, int, int]] = set()
    while len(chosen) < limit:
        i, j, k = sorted(rng.choice(n_columns, size=3, replace=False).tolist())
        chosen.add((i, j, k))
    return sorted(chosen)


def accuracy(
    train_codes: np.ndarray,
    other_codes: np.ndarray,
    sizes: list[int],
    triples: list[tuple[int, int, int]],
    progress: bool = False,
) -> AccuracyResult:
    """Univariate, bivariate and trivariate accuracy of ``other_codes`` against training."""
    from tqdm.auto import tqdm

    n_columns = len(sizes)
    uni = np.array([_accuracy(train_codes, other_codes, sizes, (j,)) for j in range(n_columns)])
    pairs = list(itertools.combinations(range(n_columns), 2))
    bi = np.array([_accuracy(train_codes, other_codes, sizes, p) for p in pairs])
    tri = np.array(
        [
            _accuracy(train_codes, other_codes, sizes, t)
            for t in tqdm(triples, desc="trivariate accuracy", disable=not progress, leave=False)
        ]
    )
    return AccuracyResult(uni, pairs, bi, tri)
