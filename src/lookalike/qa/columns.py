"""Column kinds for the QA report, and the aligned, typed frames every metric reads.

The report sees three kinds: ``numeric``, ``datetime`` (datetime64 or ISO date strings)
and ``categorical`` (strings, booleans, anything else). Kinds are inferred from the
training table and imposed on the others, so a synthetic column that came back as text
is still compared as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InputError

Kind = Literal["numeric", "datetime", "categorical"]

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class Column:
    """One column as the report sees it: its name and kind."""

    name: str
    kind: Kind


def _looks_like_iso_dates(s: pd.Series) -> bool:
    values = s.dropna()
    if len(values) == 0:
        return False
    sample = values.iloc[:1000].astype(str)
    return bool(sample.str.match(_ISO_DATE).mean() >= 0.99)


def infer_columns(train: pd.DataFrame) -> list[Column]:
    """Infer each training column's kind."""
    cols = []
    for name in train.columns:
        s = train[name]
        if pd.api.types.is_bool_dtype(s):
            kind: Kind = "categorical"
        elif pd.api.types.is_numeric_dtype(s):
            kind = "numeric"
        elif pd.api.types.is_datetime64_any_dtype(s):
            kind = "datetime"
        elif _looks_like_iso_dates(s):
            kind = "datetime"
        else:
            kind = "categorical"
        cols.append(Column(name, kind))
    return cols


def check_columns(train: pd.DataFrame, other: pd.DataFrame, name: str) -> None:
    """Raise ``InputError`` naming the training columns that ``other`` lacks."""
    missing = [c for c in train.columns if c not in other.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InputError(
            f"table '{name}': {len(missing)} training column(s) missing: {shown}; "
            f"the {name} table must have every column of the training table"
        )


def _to_datetime(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        out = pd.to_datetime(s.astype("str"), errors="coerce", format="ISO8601", utc=True)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def as_float(s: pd.Series, kind: Kind) -> np.ndarray:
    """A numeric or datetime column as float64 (datetimes in seconds), NaN for nulls."""
    if kind == "datetime":
        dt = _to_datetime(s)
        ns = dt.to_numpy(dtype="datetime64[ns]").astype("int64").astype(np.float64)
        ns[dt.isna().to_numpy()] = np.nan
        return ns / 1e9
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy()
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def as_text(s: pd.Series) -> pd.Series:
    """A categorical column as strings, nulls kept as NA."""
    if isinstance(s.dtype, pd.StringDtype) or s.dtype == "str":
        return s
    return s.astype("str").where(s.notna())


def codes_of(text: pd.Series, categories: list[str]) -> np.ndarray:
    """Position of each value in ``categories``; -1 for nulls and values not in it."""
    return pd.Index(categories, dtype=object).get_indexer(text.astype(object)).astype(np.int64)


def format_value(value: float, kind: Kind) -> str:
    """A numeric/datetime bin edge as readable text."""
    if not np.isfinite(value):
        return str(value)
    if kind == "datetime":
        ts = pd.Timestamp(int(round(value * 1e9)))
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"
