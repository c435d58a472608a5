"""Generation controls, validated at the door and turned into token-level constraints:
seeded generation, imputation, rebalancing and fairness.

Everything here speaks DataFrames and column names; ``sampling.py`` speaks tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .encoding import TableEncoder
from .encoding.base import NULL
from .encoding.categorical import CategoricalEncoder
from .errors import ConfigError
from .schema import datetime_seconds, to_numeric


@dataclass
class Controls:
    """One generation request's options after validation."""

    seed_data: pd.DataFrame | None = None
    impute: list[str] = field(default_factory=list)
    rebalance: dict[str, dict] = field(default_factory=dict)
    fairness: dict | None = None
    # for related tables, whose context columns are always given: seed columns whose nulls
    # are facts (not gaps to fill), and columns that must not come out null
    given_nulls: list[str] = field(default_factory=list)
    never_null: list[str] = field(default_factory=list)

    @property
    def conditional(self) -> bool:
        """True when the output is not the model's plain unconditional sample."""
        return self.seed_data is not None or bool(self.impute or self.rebalance or self.fairness)

    def describe(self) -> dict:
        return {
            "seeded_rows": None if self.seed_data is None else len(self.seed_data),
            "seed_columns": None if self.seed_data is None else list(self.seed_data.columns),
            "impute": self.impute,
            "rebalance": self.rebalance,
            "fairness": self.fairness,
        }


def check_sampling(temperature: float, top_p: float) -> None:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ConfigError(f"temperature must be a number > 0, got {temperature!r}")
    if not isinstance(top_p, (int, float)) or isinstance(top_p, bool) or not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {top_p!r}")


def _check_known(encoder: TableEncoder, names, what: str) -> None:
    unknown = [c for c in names if c not in encoder.columns]
    if unknown:
        raise ConfigError(f"{what}: unknown column(s) {unknown}; the model's columns are {encoder.columns}")


def _categorical(encoder: TableEncoder, col: str, what: str) -> CategoricalEncoder:
    enc = encoder.encoder(col)
    if not isinstance(enc, CategoricalEncoder):
        raise ConfigError(f"{what}: column '{col}' is {enc.kind}, not categorical; only categories can be {what}d")
    return enc


def validate(encoder: TableEncoder, seed_data=None, impute=None, rebalance=None, fairness=None) -> Controls:
    """Check every option against the model's columns; raise ConfigError naming the problem."""
    c = Controls()
    if seed_data is not None:
        from .io import read_table

        df = read_table(seed_data, "seed")
        known = [col for col in df.columns if col in encoder.columns]
        if not known:
            raise ConfigError(f"seed: none of its columns {list(df.columns)} is a column of the model ({encoder.columns})")
        c.seed_data = df.reset_index(drop=True)
    if impute:
        if isinstance(impute, str):
            impute = [impute]
        _check_known(encoder, impute, "impute")
        for col in impute:
            if not encoder.subs_of(col):
                raise ConfigError(f"impute: column '{col}' is a {encoder.encoder(col).kind} column and is not modelled")
        c.impute = list(impute)
    if rebalance:
        if not isinstance(rebalance, dict):
            raise ConfigError('rebalance: expected {column: {category: share}}, e.g. {"income": {">50K": 0.5}}')
        if len(rebalance) > 1:
            raise ConfigError(f"rebalance: one column at a time, got {list(rebalance)}")
        _check_known(encoder, rebalance, "rebalance")
        for col, shares in rebalance.items():
            enc = _categorical(encoder, col, "rebalance")
            if not isinstance(shares, dict) or not shares:
                raise ConfigError(f"rebalance: column '{col}': expected {{category: share}}, got {shares!r}")
            cats = {str(v) for v in enc.categories_}
            bad = [k for k in shares if str(k) not in cats]
            if bad:
                raise ConfigError(f"rebalance: column '{col}' has no category {bad}; its categories are {sorted(cats)[:30]}")
            vals = list(shares.values())
            if any(not isinstance(v, (int, float)) or v < 0 or v > 1 for v in vals):
                raise ConfigError(f"rebalance: column '{col}': shares must be numbers in [0, 1], got {vals}")
            if sum(vals) > 1 + 1e-9:
                raise ConfigError(f"rebalance: column '{col}': shares sum to {sum(vals):.3f}; they must sum to at most 1")
        c.rebalance = {col: {str(k): float(v) for k, v in shares.items()} for col, shares in rebalance.items()}
    if fairness:
        if not isinstance(fairness, dict) or "target" not in fairness or "sensitive" not in fairness:
            raise ConfigError('fairness: expected {"target": column, "sensitive": [columns]}')
        sensitive = fairness["sensitive"]
        sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        _check_known(encoder, [fairness["target"], *sensitive], "fairness")
        _categorical(encoder, fairness["target"], "fairness target")
        if fairness["target"] in sensitive:
            raise ConfigError("fairness: the target cannot also be a sensitive column")
        c.fairness = {"target": fairness["target"], "sensitive": sensitive}
    return c


def seed_tokens(encoder: TableEncoder, seed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Fixed tokens and their mask [n, S] from a seed table; nulls in seed columns stay free."""
    n, S = len(seed), len(encoder.subcolumns)
    fixed = np.zeros((n, S), dtype=np.int64)
    mask = np.zeros((n, S), dtype=bool)
    for col in seed.columns:
        if col not in encoder.columns or not encoder.subs_of(col):
            continue
        enc = encoder.encoder(col)
        s = seed[col]
        _check_seed_type(enc, s)
        subs = encoder.subs_of(col)
        fixed[:, subs] = enc.encode(s)
        mask[:, subs] = s.notna().to_numpy()[:, None]
    return fixed, mask


def _check_seed_type(enc, s: pd.Series) -> None:
    nn = s.dropna()
    if enc.kind == "numeric":
        bad = nn[to_numeric(nn).isna()]
    elif enc.kind == "datetime":
        secs = datetime_seconds(nn) if len(nn) else np.zeros(0)
        bad = nn[np.isnan(secs)]
    else:
        return
    if len(bad):
        raise ConfigError(
            f"seed: column '{enc.name}' is {enc.kind} in the model, but the seed has {len(bad)} value(s) that are "
            f"not (e.g. {str(bad.iloc[0])!r}); fix or drop them"
        )


def rebalance_targets(encoder: TableEncoder, col: str, shares: dict[str, float], marginal: np.ndarray) -> np.ndarray:
    """Token distribution of ``col`` with the given category shares; the remaining mass is
    spread over the other tokens in proportion to the model's marginal."""
    enc = _categorical(encoder, col, "rebalance")
    lookup = {str(v): i + 2 for i, v in enumerate(enc.categories_)}
    target = np.zeros(len(marginal))
    for k, v in shares.items():
        target[lookup[k]] = v
    rest = marginal.copy()
    rest[list(lookup[k] for k in shares)] = 0.0
    left = 1.0 - target.sum()
    if rest.sum() > 0:
        target += left * rest / rest.sum()
    else:
        target /= target.sum()
    return target


def null_forbidden(allowed: list[np.ndarray], subs: list[int]) -> list[np.ndarray]:
    """A copy of ``allowed`` in which the null token of the given sub-columns cannot be drawn."""
    out = [a.copy() for a in allowed]
    for i in subs:
        out[i][NULL] = False
    return out
