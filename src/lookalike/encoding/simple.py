"""Columns that are not modelled: constants and all-null columns (keys: ``keys.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import ColumnEncoder, restore_dtype


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
