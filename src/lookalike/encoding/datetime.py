"""Datetime columns: seconds since the epoch, encoded like numbers, written back in the
input's format (datetime dtype, or ISO strings with or without a time)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import datetime_seconds
from .numeric import NumericEncoder

DAY = 86_400


class DatetimeEncoder(NumericEncoder):
    kind = "datetime"
    unit_multiples = (1, 60, 300, 900, 1800, 3600, 86_400)  # seconds: minutes, quarter hours, hours, days

    def values(self, s: pd.Series) -> np.ndarray:
        return datetime_seconds(s)

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> DatetimeEncoder:
        secs = datetime_seconds(s)
        secs = secs[~np.isnan(secs)]
        self.date_only_ = bool(len(secs) == 0 or np.all(np.mod(secs, DAY) == 0))
        sample = s.dropna().astype(str).head(1)
        self.iso_t_ = bool(len(sample) and "T" in sample.iloc[0])
        super().fit(s, rng, protect)
        self.decimals_ = 0
        return self

    def _dp_range_edges(self) -> np.ndarray:
        """Five-year spans, 1700-2300, in seconds (data-independent)."""
        starts = np.array([f"{y}-01-01" for y in range(1700, 2301, 5)], dtype="datetime64[s]")
        return starts.astype("int64").astype("float64")

    def fit_dp(self, s: pd.Series, rng: np.random.Generator, dp) -> DatetimeEncoder:
        """DP state as for numbers, on a grid of years; dates vs times from the noisy
        resolution histogram."""
        sample = s.dropna().astype(str).head(1)
        self.iso_t_ = bool(len(sample) and "T" in sample.iloc[0])  # the format, not a value
        super().fit_dp(s, rng, dp)
        self.date_only_ = bool(self.unit_ and self.unit_ % DAY == 0)
        self.decimals_ = 0
        return self

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        secs = self.decode_values(tokens, rng)
        if self.date_only_:
            secs = np.round(secs / DAY) * DAY
        ns = np.where(np.isnan(secs), 0, secs * 1e9).astype("int64").astype("datetime64[ns]")
        dt = pd.Series(ns, name=self.name)
        dt[np.isnan(secs)] = pd.NaT
        if self.dtype.startswith("datetime64"):
            return dt.astype(self.dtype) if "tz" not in self.dtype and "," not in self.dtype else dt
        fmt = "%Y-%m-%d" if self.date_only_ else ("%Y-%m-%dT%H:%M:%S" if self.iso_t_ else "%Y-%m-%d %H:%M:%S")
        out = dt.dt.strftime(fmt)
        return out.astype(self.dtype) if self.dtype in ("str", "string", "object") else out
