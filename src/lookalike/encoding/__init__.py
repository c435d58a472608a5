"""A table <-> a matrix of integer tokens, one encoder per column kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..schema import TableSchema
from .base import ColumnEncoder
from .categorical import BooleanEncoder, CategoricalEncoder, TextCategoryEncoder
from .datetime import DatetimeEncoder
from .numeric import NumericEncoder
from .keys import KeyEncoder
from .simple import ConstantEncoder, EmptyEncoder
from .text import TextEncoder

ENCODERS: dict[str, type[ColumnEncoder]] = {
    e.kind: e
    for e in (
        NumericEncoder, CategoricalEncoder, BooleanEncoder, TextEncoder, DatetimeEncoder,
        KeyEncoder, ConstantEncoder, EmptyEncoder,
    )
}
ENCODERS["text_category"] = TextCategoryEncoder  # text under DP: its state's kind stays "text"


@dataclass
class SubColumn:
    """One token position of the model: ``column`` is the index of its table column."""

    column: int
    name: str
    cardinality: int


class TableEncoder:
    """Encodes the modelled columns of a table to tokens ``[n_rows, n_sub]`` and back."""

    def __init__(self, encoders: list[ColumnEncoder]):
        self.encoders = encoders
        self.subcolumns: list[SubColumn] = []
        for ci, enc in enumerate(encoders):
            for si, card in enumerate(enc.cardinalities):
                self.subcolumns.append(SubColumn(ci, f"{enc.name}[{si}]", card))

    @classmethod
    def fit(cls, df: pd.DataFrame, schema: TableSchema, rng: np.random.Generator, config,
            key_rows: pd.DataFrame | None = None, dp=None,
            subject_values: dict[str, pd.Series] | None = None) -> TableEncoder:
        """``key_rows``: every real row (holdout included), which new keys must all avoid.
        ``dp``: a ``NoisyCounts``; every encoder then learns from DP statistics only.
        ``subject_values``: columns that copy a value per subject (a child's ``parent.*``
        columns), fitted on one value per subject, so rare-category and value protection
        count subjects, not the subject's rows."""
        encoders = []
        for col in schema.columns:
            if col.kind == "exclude":
                continue
            kind = dp_kind(col.kind) if dp is not None else col.kind
            enc = ENCODERS[kind](col.name, col.dtype)
            if dp is not None:
                enc.fit_dp(df[col.name], rng, dp)
            else:
                rows = key_rows if col.kind == "key" and key_rows is not None else df
                values = (subject_values or {}).get(col.name, rows[col.name])
                enc.fit(values, rng, protect=_protects(col.kind, config))
            if isinstance(enc, CategoricalEncoder):
                enc.replace_rare_ = config.rare_category_replacement
            encoders.append(enc)
        return cls(encoders)

    def dp_marginals(self) -> list[np.ndarray | None]:
        """Per sub-column, the noisy token counts the DP fit released (None: none)."""
        return [m for e in self.encoders for m in getattr(e, "dp_marginals", [None] * len(e.cardinalities))]

    @property
    def columns(self) -> list[str]:
        return [e.name for e in self.encoders]

    @property
    def cardinalities(self) -> list[int]:
        return [s.cardinality for s in self.subcolumns]

    @property
    def column_of_sub(self) -> list[int]:
        return [s.column for s in self.subcolumns]

    @property
    def own_detail_subs(self) -> list[int]:
        """Detail sub-columns that see only their own column's earlier sub-tokens."""
        own = {self.columns.index(e.name) for e in self.encoders if e.own_details}
        first = {s.column: i for i, s in reversed(list(enumerate(self.subcolumns)))}
        return [i for i, s in enumerate(self.subcolumns) if s.column in own and first[s.column] != i]

    def token_positions(self) -> list[np.ndarray | None]:
        """Per sub-column, each token's place in its column's order (``ColumnEncoder.token_positions``)."""
        return [p for e in self.encoders for p in e.token_positions()]

    def detail_applies(self) -> list[np.ndarray | None]:
        """Per sub-column, the first tokens of its column its detail applies to (``ColumnEncoder.detail_applies``)."""
        return [a for e in self.encoders for a in e.detail_applies()]

    def subs_of(self, column: str) -> list[int]:
        """Indices of the sub-columns (token positions) of a table column."""
        ci = self.columns.index(column)
        return [i for i, s in enumerate(self.subcolumns) if s.column == ci]

    def encoder(self, column: str) -> ColumnEncoder:
        return self.encoders[self.columns.index(column)]

    def allowed(self) -> list[np.ndarray]:
        return [a for e in self.encoders for a in e.allowed()]

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        parts = [e.encode(df[e.name]) for e in self.encoders if e.cardinalities]
        if not parts:
            return np.zeros((len(df), 0), dtype=np.int64)
        return np.concatenate(parts, axis=1)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.DataFrame:
        out = {}
        pos = 0
        for e in self.encoders:
            n = len(e.cardinalities)
            out[e.name] = e.decode(tokens[:, pos : pos + n], rng, start=start).reset_index(drop=True)
            pos += n
        return pd.DataFrame(out)

    def state(self) -> list[dict[str, Any]]:
        return [e.state() for e in self.encoders]

    @classmethod
    def from_state(cls, state: list[dict[str, Any]]) -> TableEncoder:
        return cls([ENCODERS[s["kind"]].from_state(s) for s in state])


def dp_kind(kind: str) -> str:
    """The encoder a column gets under DP: a constant's value is released only if its noisy
    count passes the categories' threshold, so it is a category there."""
    if kind == "text":  # DP-trained text generation does not exist yet: texts are categories
        return "text_category"
    return "categorical" if kind == "constant" else kind


def dp_weights(schema: TableSchema) -> tuple[list[float], int]:
    """The DP statistics' query weights for a schema (before any data is read), and how
    many of them select categories from an unbounded domain."""
    weights, selection = [], 0
    for col in schema.columns:
        if col.kind == "exclude":
            continue
        enc = ENCODERS[dp_kind(col.kind)]
        weights.append(enc.dp_weight(col.dtype))
        selection += issubclass(enc, CategoricalEncoder)
    return weights, selection


def _protects(kind: str, config) -> bool:
    if kind in ("categorical", "boolean", "text"):
        return config.rare_category_protection and kind != "boolean"
    if kind in ("numeric", "datetime"):
        return config.value_protection
    return False


__all__ = ["TableEncoder", "ColumnEncoder", "SubColumn", "ENCODERS"]
