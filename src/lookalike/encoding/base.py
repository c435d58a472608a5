"""What every column encoder provides: values <-> integer tokens, and its learned state."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

NULL = 0  # token 0 of a column's first sub-column is always "null"


class ColumnEncoder:
    """Turns one column into ``n_sub`` integer sub-columns ("tokens") and back.

    Learned state lives in attributes ending in ``_`` and round-trips through
    ``state()`` / ``from_state()`` as plain JSON, so the model file holds no pickles.
    """

    kind: ClassVar[str]

    def __init__(self, name: str, dtype: str):
        self.name = name
        self.dtype = dtype

    # --- learned state -------------------------------------------------------------
    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> ColumnEncoder:
        return self

    # --- differential privacy (``lookalike.privacy.dp``) ------------------------------
    @classmethod
    def dp_weight(cls, dtype: str) -> float:
        """The weight of the DP histogram queries ``fit_dp`` makes (0: it learns nothing
        from the values), planned from the schema before any data is read."""
        return 0.0

    def fit_dp(self, s: pd.Series, rng: np.random.Generator, dp) -> ColumnEncoder:
        """Learn the state from DP statistics only: ``dp`` is a ``NoisyCounts``. Encoders
        that learn nothing from the values keep ``fit``. Also sets ``dp_marginals`` (not
        saved): per sub-column, noisy token counts to start the model's heads at, or None."""
        if self.dp_weight(self.dtype):
            raise NotImplementedError(f"{type(self).__name__} has no DP fit")
        self.fit(s, rng, protect=False)
        self.dp_marginals = [None] * len(self.cardinalities)
        return self

    @property
    def cardinalities(self) -> list[int]:
        """Number of tokens of each sub-column (empty when the column is not modelled)."""
        return []

    @property
    def own_details(self) -> bool:
        """True when the detail sub-columns (all but the first) need only this column's own
        earlier sub-tokens as context, not the rest of the row."""
        return False

    def token_positions(self) -> list[np.ndarray | None]:
        """Per sub-column, where each token lies in the column's order, from 0 to 1 (NaN for
        a token with no place in it, such as null), or None for a sub-column without an
        order (categories). The network starts ordered tokens near their neighbours
        (``TabularModel.init_ordinal``)."""
        return [None] * len(self.cardinalities)

    def detail_applies(self) -> list[np.ndarray | None]:
        """Per sub-column, for a detail sub-column whose token means nothing for some of the
        column's first tokens (a number's position inside its bin, when the value is a point
        mass or null): which first tokens it applies to (bool, by first token); None where
        it always does. Training leaves the rest out of its loss (``TabularModel.set_detail_rows``)."""
        return [None] * len(self.cardinalities)

    def allowed(self) -> list[np.ndarray]:
        """Per sub-column, which tokens may be sampled (e.g. null only if the data had nulls)."""
        return [np.ones(c, dtype=bool) for c in self.cardinalities]

    # --- transforms -----------------------------------------------------------------
    def encode(self, s: pd.Series) -> np.ndarray:
        """int64 array of shape [n, n_sub]."""
        return np.zeros((len(s), 0), dtype=np.int64)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        raise NotImplementedError

    # --- persistence ----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k.endswith("_")}
        return {"kind": self.kind, "name": self.name, "dtype": self.dtype, **out}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnEncoder:
        enc = cls(state["name"], state["dtype"])
        for k, v in state.items():
            if k.endswith("_"):
                setattr(enc, k, v)
        return enc


def protection_k(rng: np.random.Generator) -> int:
    """Privacy threshold drawn around 5-7 so the threshold itself reveals nothing."""
    return int(rng.integers(5, 8))


def restore_dtype(s: pd.Series, dtype: str) -> pd.Series:
    """Cast back to the input's dtype where the values allow it."""
    try:
        if dtype.startswith(("int", "uint")) and s.isna().any():
            return s.astype("Int64" if dtype.startswith("int") else "UInt64")
        return s.astype(dtype)
    except (TypeError, ValueError):
        return s
