"""Categorical, boolean and (for now) free-text columns: one token per category."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import NULL, ColumnEncoder, protection_k, restore_dtype

RARE = 1  # token for categories too rare to reveal
RARE_LABEL = "_RARE_"


def _jsonable(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v if isinstance(v, (int, float, str)) else str(v)


class CategoricalEncoder(ColumnEncoder):
    """Tokens: 0 = null, 1 = rare, 2.. = categories (most frequent first)."""

    kind = "categorical"

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> CategoricalEncoder:
        counts = s.dropna().value_counts()
        k = protection_k(rng) if protect else 1
        keep = counts[counts >= k]
        self.categories_ = [_jsonable(v) for v in keep.index]
        self.frequencies_ = [int(c) for c in keep.to_numpy()]
        self.has_null_ = bool(s.isna().any())
        self.has_rare_ = bool((counts < k).any())
        self.replace_rare_ = "rare"
        return self

    @classmethod
    def dp_weight(cls, dtype: str) -> float:
        return 1.0

    def fit_dp(self, s: pd.Series, rng: np.random.Generator, dp) -> CategoricalEncoder:
        """DP state: one noisy histogram of null and the categories; a category is kept
        only when its noisy count passes the partition-selection threshold, so one held
        by a single row appears with probability at most δ. Frequencies are the noisy ones."""
        counts = s.dropna().map(_jsonable).value_counts(sort=False)
        noisy = dp.counts(np.concatenate([[float(s.isna().sum())], counts.to_numpy(dtype=float)]))
        null, cats = noisy[0], noisy[1:]
        keep = np.flatnonzero(cats >= dp.selection())
        keep = keep[np.argsort(-cats[keep], kind="stable")]
        self.categories_ = [_jsonable(counts.index[i]) for i in keep]
        self.frequencies_ = [int(round(cats[i])) for i in keep]
        self.has_null_ = bool(null >= dp.presence())
        null = max(null, 0.0) if self.has_null_ else 0.0
        rare = max(dp.rows - null - float(np.sum(cats[keep])), 0.0)  # the rows of the categories left out
        self.has_rare_ = bool(rare >= dp.presence())
        self.replace_rare_ = "rare"
        self.dp_marginals = [np.array([null, rare, *cats[keep]])]
        return self

    @property
    def cardinalities(self) -> list[int]:
        return [2 + len(self.categories_)]

    def allowed(self) -> list[np.ndarray]:
        a = np.ones(self.cardinalities[0], dtype=bool)
        a[NULL] = self.has_null_
        a[RARE] = self.has_rare_ and self.replace_rare_ == "rare"
        return [a]

    def _lookup(self) -> dict:
        return {v: i + 2 for i, v in enumerate(self.categories_)}

    def encode(self, s: pd.Series) -> np.ndarray:
        lookup = self._lookup()
        vals = s.to_numpy(dtype=object)
        isna = pd.isna(vals)
        codes = np.fromiter((lookup.get(_jsonable(v), RARE) for v in vals), dtype=np.int64, count=len(vals))
        codes[isna] = NULL
        return codes[:, None]

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        values = np.array([None, RARE_LABEL] + list(self.categories_), dtype=object)
        out = pd.Series(values[tokens[:, 0]], name=self.name)
        if (tokens[:, 0] == RARE).any() and self.dtype not in ("str", "string", "object"):
            return out.astype("string")  # _RARE_ beside non-string categories (e.g. numbers as categories)
        return restore_dtype(out, self.dtype)


class BooleanEncoder(CategoricalEncoder):
    kind = "boolean"

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        values = np.array([None, None] + list(self.categories_), dtype=object)
        out = pd.Series(values[tokens[:, 0]], name=self.name)
        if self.dtype == "bool" and out.isna().any():
            return out.astype("boolean")
        return restore_dtype(out, self.dtype)


class TextCategoryEncoder(CategoricalEncoder):
    """Free text as a category: only values shared by several rows come back, the rest is
    _RARE_. What text columns get under differential privacy (DP-trained text generation
    does not exist yet) and what model files from before text generation hold; otherwise
    ``encoding/text.py`` with the text model."""

    kind = "text"
