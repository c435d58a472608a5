"""Columns that are not modelled: keys (new unique values), constants, all-null columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import ColumnEncoder, restore_dtype


class KeyEncoder(ColumnEncoder):
    """Unique identifiers: regenerated as new unique values, never copies of real keys."""

    kind = "key"

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> KeyEncoder:
        self.numeric_ = bool(pd.api.types.is_numeric_dtype(s))
        return self

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        idx = np.arange(start, start + len(tokens))
        if self.numeric_:
            return restore_dtype(pd.Series(idx + 1, name=self.name), self.dtype)
        return pd.Series([f"lk-{i + 1:09d}" for i in idx], name=self.name, dtype=self.dtype if self.dtype != "object" else None)


class ConstantEncoder(ColumnEncoder):
    kind = "constant"

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> ConstantEncoder:
        v = s.dropna().iloc[0]
        self.value_ = v.item() if hasattr(v, "item") else (v if isinstance(v, (int, float, str, bool)) else str(v))
        return self

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        return restore_dtype(pd.Series([self.value_] * len(tokens), name=self.name), self.dtype)


class EmptyEncoder(ColumnEncoder):
    kind = "empty"

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        return restore_dtype(pd.Series([None] * len(tokens), name=self.name, dtype=object), self.dtype)
