"""Numeric columns.

Few distinct values: one token per value, so exact values come back. Many: two
sub-tokens, a quantile bin and a position inside it, so the shape of the distribution,
the range and the precision come back without memorising values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import to_numeric
from .base import NULL, ColumnEncoder, protection_k, restore_dtype

MAX_DISCRETE = 256  # distinct values up to which each value gets its own token
N_BINS = 100  # quantile bins of a continuous column
N_FINE = 20  # positions inside a bin
MIN_DISTINCT_FOR_CLIPPING = 20  # columns with fewer distinct values keep their whole range
MAX_CLIPPED_SHARE = 0.01  # extreme value protection never moves more than this share of rows


def _decimals(v: np.ndarray) -> int:
    for d in range(0, 7):
        if np.allclose(np.round(v, d), v, rtol=0, atol=1e-9):
            return d
    return 6


def _protected_range(uniq: np.ndarray, counts: np.ndarray, k: int) -> tuple[float, float]:
    """Range without the k most extreme distinct values at each end, unless they carry
    real mass (more than MAX_CLIPPED_SHARE of the rows): extremes held by few individuals
    never set the output's range; common values (a mode at the minimum) stay."""
    limit = MAX_CLIPPED_SHARE * counts.sum()

    def cut(c: np.ndarray) -> int:
        dropped = np.cumsum(c[:k])
        return int(np.searchsorted(dropped, limit, side="right").clip(0, k))

    i, j = cut(counts), cut(counts[::-1])
    return float(uniq[min(i, len(uniq) - 1)]), float(uniq[max(len(uniq) - 1 - j, 0)])


class NumericEncoder(ColumnEncoder):
    kind = "numeric"

    def values(self, s: pd.Series) -> np.ndarray:
        """Column as float64 with NaN for nulls (datetimes override this)."""
        return to_numeric(s).to_numpy(dtype="float64")

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> NumericEncoder:
        v = self.values(s)
        self.has_null_ = bool(np.isnan(v).any())
        v = v[~np.isnan(v)]
        self.decimals_ = _decimals(v[:100_000]) if len(v) else 0
        uniq, counts = np.unique(v, return_counts=True)
        lo, hi = (float(uniq[0]), float(uniq[-1])) if len(uniq) else (0.0, 0.0)
        k = protection_k(rng) if protect else 0
        if protect and len(uniq) >= MIN_DISTINCT_FOR_CLIPPING:
            # extreme value protection: the range is never set by the few most extreme values
            lo, hi = _protected_range(uniq, counts, k)
            v = np.clip(v, lo, hi)
            uniq, counts = np.unique(v, return_counts=True)
        self.min_, self.max_ = lo, hi
        if len(uniq) <= MAX_DISCRETE:
            if protect:
                # rare values (held by fewer than k rows) never appear: they fold into the nearest frequent one
                frequent = uniq[counts >= k] if (counts >= k).any() else uniq[np.argmax(counts)][None] if len(uniq) else uniq
                self.values_ = [float(x) for x in frequent]
            else:
                self.values_ = [float(x) for x in uniq]
            self.edges_ = None
        else:
            self.values_ = None
            qs = np.quantile(v, np.linspace(0, 1, N_BINS + 1))
            self.edges_ = [float(x) for x in np.unique(qs)]
        return self

    @property
    def cardinalities(self) -> list[int]:
        if self.edges_ is None:
            return [1 + len(self.values_)]
        return [1 + max(len(self.edges_) - 1, 1), N_FINE]

    def allowed(self) -> list[np.ndarray]:
        out = [np.ones(c, dtype=bool) for c in self.cardinalities]
        out[0][NULL] = self.has_null_
        return out

    def encode(self, s: pd.Series) -> np.ndarray:
        v = self.values(s)
        isna = np.isnan(v)
        v = np.clip(np.nan_to_num(v, nan=self.min_), self.min_, self.max_)
        if self.edges_ is None and not self.values_:  # no values at all: only nulls
            codes = np.zeros((len(v), 1), dtype=np.int64)
        elif self.edges_ is None:
            grid = np.asarray(self.values_)
            idx = np.searchsorted(grid, v).clip(0, len(grid) - 1)
            left = (idx - 1).clip(0)
            nearest = np.where(np.abs(grid[left] - v) <= np.abs(grid[idx] - v), left, idx)
            codes = (nearest + 1)[:, None]
        else:
            edges = np.asarray(self.edges_)
            n_bins = max(len(edges) - 1, 1)
            b = (np.searchsorted(edges, v, side="right") - 1).clip(0, n_bins - 1)
            lo, hi = edges[b], edges[np.minimum(b + 1, len(edges) - 1)]
            width = np.where(hi > lo, hi - lo, 1.0)
            fine = np.floor((v - lo) / width * N_FINE).astype(np.int64).clip(0, N_FINE - 1)
            codes = np.stack([b + 1, fine], axis=1)
        codes = codes.astype(np.int64)
        codes[isna, 0] = NULL
        codes[isna, 1:] = 0
        return codes

    def decode_values(self, tokens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """float64 values with NaN for nulls."""
        first = tokens[:, 0]
        if self.edges_ is None:
            grid = np.asarray([np.nan] + list(self.values_))
            return grid[first]
        edges = np.asarray(self.edges_)
        b = (first - 1).clip(0, max(len(edges) - 2, 0))
        lo, hi = edges[b], edges[np.minimum(b + 1, len(edges) - 1)]
        pos = (tokens[:, 1] + rng.random(len(tokens))) / N_FINE
        v = lo + pos * (hi - lo)
        v = np.round(v, self.decimals_).clip(self.min_, self.max_)
        v[first == NULL] = np.nan
        return v

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        v = self.decode_values(tokens, rng)
        out = pd.Series(v, name=self.name)
        if self.decimals_ == 0 and not self.dtype.startswith("float"):
            out = out.round()
        return restore_dtype(out, self.dtype)
