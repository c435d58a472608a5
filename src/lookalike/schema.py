"""Column kinds: inference from the data, user overrides, validation with clear errors."""

from __future__ import annotations

import logging
import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from .errors import SchemaError

log = logging.getLogger(__name__)

Kind = Literal["numeric", "categorical", "datetime", "boolean", "key", "text", "constant", "empty", "exclude"]

_KEY_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid)$|^id[_\W]|[a-z]Id$", re.IGNORECASE)
_TEXT_MIN_UNIQUE_SHARE = 0.5
_TEXT_MIN_MEAN_LENGTH = 12


class ColumnSchema(BaseModel):
    """What lookalike knows about one input column."""

    name: str
    kind: Kind
    dtype: str  # the input's pandas dtype, restored on output
    null_share: float
    n_unique: int
    inferred: bool = True  # False when the user set the kind


class TableSchema(BaseModel):
    """The columns of one table, in input order."""

    name: str = "data"
    columns: list[ColumnSchema]

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _looks_datetime(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return False
    sample = s.dropna().astype(str).head(500)
    if sample.empty or not sample.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601")
    return bool(parsed.notna().all())


def _infer_kind(name: str, s: pd.Series) -> Kind:
    n = len(s)
    nn = s.dropna()
    if nn.empty:
        return "empty"
    n_unique = nn.nunique()
    if pd.api.types.is_bool_dtype(s) or set(nn.unique().tolist()) <= {True, False} and not pd.api.types.is_numeric_dtype(s):
        return "boolean"
    if n_unique == 1 and len(nn) == n:
        return "constant"
    if _looks_datetime(s):
        return "datetime"
    unique_per_row = n_unique == n and n > 1
    if unique_per_row and _KEY_NAME.search(name) and not pd.api.types.is_float_dtype(s):
        return "key"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    # strings
    strs = nn.astype(str)
    if n_unique / max(len(nn), 1) >= _TEXT_MIN_UNIQUE_SHARE and n_unique > 50:
        if strs.str.len().mean() >= _TEXT_MIN_MEAN_LENGTH or strs.str.contains(" ").mean() > 0.5:
            return "text"
        if unique_per_row:
            return "key"
    return "categorical"


def infer_schema(df: pd.DataFrame, types: dict[str, str] | None = None, name: str = "data") -> TableSchema:
    """Infer each column's kind; ``types`` overrides it. Raises ``SchemaError`` listing every problem."""
    types = dict(types or {})
    problems: list[str] = []
    unknown = [c for c in types if c not in df.columns]
    if unknown:
        problems.append(
            f"table '{name}': types names unknown column(s) {unknown}; known columns are {list(df.columns)[:20]}"
        )
    cols: list[ColumnSchema] = []
    for col in df.columns:
        s = df[col]
        kind: Kind = types.get(col) or _infer_kind(col, s)  # type: ignore[assignment]
        if col in types:
            problems.extend(_check_override(name, col, s, kind))
        nn = s.dropna()
        cols.append(
            ColumnSchema(
                name=col,
                kind=kind,
                dtype=str(s.dtype),
                null_share=float(s.isna().mean()),
                n_unique=int(nn.nunique()),
                inferred=col not in types,
            )
        )
    if problems:
        raise SchemaError(problems)
    if all(c.kind in ("exclude", "key", "empty", "constant") for c in cols) and len(cols) > 0:
        log.warning("table '%s': no column carries information to learn (all keys, constants or empty)", name)
    for c in cols:
        if c.kind == "text":
            log.warning(
                "table '%s', column '%s': looks like free text (%d distinct values); a text model writes "
                "its values given each row (under differential privacy it is a category: values shared by "
                "several rows, the rest _RARE_). Pass types={'%s': 'categorical'} to keep it a category, "
                "or 'exclude' to drop it.",
                name, c.name, c.n_unique, c.name,
            )
    return TableSchema(name=name, columns=cols)


def _check_override(table: str, col: str, s: pd.Series, kind: str) -> list[str]:
    nn = s.dropna()
    if kind == "numeric" and not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(nn, errors="coerce")
        bad = nn[conv.isna()]
        if len(bad):
            share = len(bad) / max(len(nn), 1)
            return [
                f"table '{table}', column '{col}': {share:.0%} of values are not numbers "
                f"(e.g. {str(bad.iloc[0])!r}); pass types={{'{col}': 'categorical'}} or clean them"
            ]
    if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s):
        conv = pd.to_datetime(nn.astype(str), errors="coerce", format="mixed")
        bad = nn[conv.isna()]
        if len(bad):
            return [
                f"table '{table}', column '{col}': {len(bad)} values are not dates "
                f"(e.g. {str(bad.iloc[0])!r}); pass types={{'{col}': 'categorical'}} or clean them"
            ]
    if kind == "key" and nn.duplicated().any():
        dup = nn[nn.duplicated()].iloc[0]
        return [f"table '{table}', column '{col}': declared a key but value {dup!r} repeats; keys must be unique"]
    return []


def to_numeric(s: pd.Series) -> pd.Series:
    """Numbers as float64 (NaN for nulls)."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def to_datetime(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        out = pd.to_datetime(s.astype("string"), errors="coerce", format="ISO8601")
        if out.isna().sum() > s.isna().sum():
            out = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def datetime_seconds(s: pd.Series) -> np.ndarray:
    """Seconds since the epoch as float64, NaN for nulls."""
    dt = to_datetime(s)
    vals = dt.astype("datetime64[ns]").to_numpy()
    out = vals.astype("int64").astype("float64") / 1e9
    out[np.isnat(vals)] = np.nan
    return out
