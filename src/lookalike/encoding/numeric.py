"""Numeric columns.

What real columns have is kept in up to three sub-tokens (a column of few distinct
values, all held by at least k rows, needs only the first: one token per value):

1. **value**: null, one of the column's *point masses* (a value held by a noticeable
   share of rows, e.g. 0 of a zero-inflated duration or 100 of a price: it comes back
   exactly, at its share, conditioned on the other columns), or a quantile bin of the
   remaining values;
2. **step** (only when the column has rounding): the coarsest rounding the value has,
   among the steps that occur more often than chance (amounts in whole units, multiples
   of 5/10/100);
3. **position** inside the bin, on cells at the bin's own quantiles, so heavy tails and
   multimodal shapes inside a bin survive.

Values are drawn back on the column's grid (its resolution: decimals, or a coarser step
every value is a multiple of), so integer-ness and precision are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import to_numeric
from .base import NULL, ColumnEncoder, protection_k, restore_dtype

MAX_DISCRETE = 256  # distinct values up to which each value gets its own token
N_BINS = 100  # quantile bins of the values that are not point masses
MIN_ROWS_PER_BIN = 20  # fewer bins on small tables: a bin never describes a handful of rows
N_FINE = 20  # positions inside a bin
MIN_ROWS_PER_FINE_CELL = 5  # a bin with fewer rows per cell gets even cells, not quantile cells
POINT_MASS_SHARE = 0.002  # a value held by at least this share of rows is a point mass
MAX_POINT_MASSES = 100
MIN_DISTINCT_FOR_CLIPPING = 20  # columns with fewer distinct values keep their whole range
MAX_CLIPPED_SHARE = 0.01  # extreme value protection never moves more than this share of rows
STEP_MULTIPLES = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 100_000, 1_000_000)
MIN_STEP_SHARE = 0.02  # a rounding step is kept when this share of values has it ...
STEP_OVER_CHANCE = 2.0  # ... and at least this many times what chance would give
MAX_GRID = 2**52  # beyond this many grid steps from zero, values are treated as continuous


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


def _on_grid(units: np.ndarray, m: int) -> np.ndarray:
    return np.mod(units, m) == 0


class NumericEncoder(ColumnEncoder):
    kind = "numeric"
    base_unit = 1.0  # the resolution before decimals (datetimes: one second)
    unit_multiples = STEP_MULTIPLES

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
            inside = (uniq >= lo) & (uniq <= hi)
            uniq, counts = uniq[inside], counts[inside]  # the clipped rows make no point mass at the bounds
            v = v[(v >= lo) & (v <= hi)]  # nor do they shape the bins: encoded, they spread over the end bins
        self.min_, self.max_ = lo, hi
        self.values_, self.fine_, self.steps_ = None, None, None
        self.unit_ = self._resolution(v)
        # point masses come back exactly: on a column of few distinct values every value
        # held by at least k rows, else values held by a noticeable share (and >= k) of the rows
        share = POINT_MASS_SHARE * len(v) if len(uniq) > MAX_DISCRETE else 0
        heavy = np.flatnonzero(counts >= max(share, k, 1 if len(uniq) <= MAX_DISCRETE else 2))
        heavy = heavy[np.argsort(-counts[heavy], kind="stable")][:MAX_POINT_MASSES if share else MAX_DISCRETE]
        self.points_ = sorted(float(x) for x in uniq[heavy])
        # the other values (rare ones included: they are drawn inside bins, never exactly)
        rest = v[~np.isin(v, self.points_)]
        if len(rest) == 0:
            self.edges_ = []
            return self
        n_bins = int(np.clip(len(rest) // MIN_ROWS_PER_BIN, 1, N_BINS))
        edges = np.unique(np.quantile(rest, np.linspace(0, 1, n_bins + 1), method="inverted_cdf"))
        edges[0], edges[-1] = min(edges[0], rest.min()), max(edges[-1], rest.max())
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
        self.edges_ = [float(x) for x in edges]
        self.fine_ = self._fine_cells(rest, edges)
        self.steps_ = self._steps(rest)
        return self

    # --- the grid -------------------------------------------------------------------
    def _resolution(self, v: np.ndarray) -> float:
        """The coarsest unit every value is a multiple of (0.01 for cents, 1 for integers,
        86,400 s for dates), or 0 for values with no grid (treated as continuous)."""
        unit = self.base_unit * 10.0 ** (-self.decimals_)
        units = np.round(v / unit)
        if len(v) == 0 or np.abs(units).max() >= MAX_GRID or not np.allclose(units * unit, v, rtol=1e-12, atol=unit * 1e-6):
            return 0.0
        best = 1
        for m in self.unit_multiples[1:]:
            if _on_grid(units, m).all():
                best = m
        return unit * best

    def _units(self, v: np.ndarray) -> np.ndarray:
        return np.round(v / self.unit_)

    def _steps(self, rest: np.ndarray) -> list[float] | None:
        """Rounding steps (in multiples of the unit) that the values have more often than
        chance; ``None`` when there is no grid or no such rounding."""
        if not self.unit_:
            return None
        units = self._units(rest)
        span = max(self.max_ - self.min_, self.unit_) / self.unit_
        kept = [1]
        for m in self.unit_multiples[1:]:
            if m > span / 2:
                break
            if m % kept[-1]:
                continue  # a step must refine into the kept ones (25 after 10 is not a multiple)
            share = float(_on_grid(units, m).mean())
            if share >= MIN_STEP_SHARE and share >= STEP_OVER_CHANCE * kept[-1] / m:
                kept.append(m)
        return [float(m) for m in kept] if len(kept) > 1 else None

    def _step_class(self, units: np.ndarray) -> np.ndarray:
        """Index of the coarsest kept step each value is a multiple of."""
        cls = np.zeros(len(units), dtype=np.int64)
        for j, m in enumerate(self.steps_ or []):
            cls[_on_grid(units, int(m))] = j
        return cls

    @staticmethod
    def _fine_cells(rest: np.ndarray, edges: np.ndarray) -> list[list[float]]:
        """Per bin, N_FINE + 1 cell edges: the bin's own quantiles when it holds enough
        rows, else even cells."""
        n_bins = len(edges) - 1
        b = (np.searchsorted(edges, rest, side="right") - 1).clip(0, n_bins - 1)
        cells = []
        for i in range(n_bins):
            inside = np.sort(rest[b == i])
            lo, hi = edges[i], edges[i + 1]
            if len(inside) >= MIN_ROWS_PER_FINE_CELL * N_FINE:
                q = np.quantile(inside, np.linspace(0, 1, N_FINE + 1), method="inverted_cdf")
            else:
                q = np.linspace(lo, hi, N_FINE + 1)
            q[0], q[-1] = lo, hi
            cells.append([float(x) for x in np.maximum.accumulate(q)])
        return cells

    # --- tokens ---------------------------------------------------------------------
    @property
    def cardinalities(self) -> list[int]:
        if self.edges_ is None:
            return [1 + len(self.values_)]
        first = 1 + len(self.points_) + self.n_bins
        if not self.n_bins:
            return [first]
        return [first, N_FINE] if not self.steps_ else [first, len(self.steps_), N_FINE]

    @property
    def n_bins(self) -> int:
        return max(len(self.edges_) - 1, 1) if self.edges_ else 0  # edges_ None: older files

    def allowed(self) -> list[np.ndarray]:
        out = [np.ones(c, dtype=bool) for c in self.cardinalities]
        out[0][NULL] = self.has_null_
        return out

    def encode(self, s: pd.Series) -> np.ndarray:
        v = self.values(s)
        isna = np.isnan(v)
        raw = np.nan_to_num(v, nan=self.min_)
        v = np.clip(raw, self.min_, self.max_)
        if not (self.values_ or self.points_ or self.n_bins):  # no values at all: only nulls
            codes = np.zeros((len(v), 1), dtype=np.int64)
        elif self.edges_ is None:  # files written before point masses: one token per value
            grid = np.asarray(self.values_)
            idx = np.searchsorted(grid, v).clip(0, len(grid) - 1)
            left = (idx - 1).clip(0)
            nearest = np.where(np.abs(grid[left] - v) <= np.abs(grid[idx] - v), left, idx)
            codes = (nearest + 1)[:, None]
        else:
            codes = self._encode_continuous(v, clipped=raw != v)
        codes = codes.astype(np.int64)
        codes[isna, 0] = NULL
        codes[isna, 1:] = 0
        return codes

    def _encode_continuous(self, v: np.ndarray, clipped: np.ndarray) -> np.ndarray:
        edges, P = np.asarray(self.edges_), len(self.points_)
        if not self.n_bins:  # every value is a point mass: the nearest one
            pts = np.asarray(self.points_)
            idx = np.searchsorted(pts, v).clip(0, P - 1)
            left = (idx - 1).clip(0)
            return (np.where(np.abs(pts[left] - v) <= np.abs(pts[idx] - v), left, idx) + 1)[:, None]
        n_bins = self.n_bins
        b = (np.searchsorted(edges, v, side="right") - 1).clip(0, n_bins - 1)
        cells = self._cells()
        fine = np.empty(len(v), dtype=np.int64)
        for i in np.unique(b):
            rows = b == i
            fine[rows] = np.searchsorted(cells[i], v[rows], side="right") - 1
        fine = fine.clip(0, N_FINE - 1)
        # rows beyond the protected range spread over their end bin instead of piling up on its edge
        fine = np.where(clipped, np.arange(len(v)) % N_FINE, fine)
        first = b + 1 + P
        point = np.searchsorted(np.asarray(self.points_), v) if P else np.zeros(len(v), dtype=np.int64)
        is_point = np.zeros(len(v), dtype=bool)
        if P:
            pts = np.asarray(self.points_)
            is_point = pts[point.clip(0, P - 1)] == v
            first = np.where(is_point, point + 1, first)
        fine = np.where(is_point, 0, fine)
        if not self.steps_:
            return np.stack([first, fine], axis=1)
        step = np.where(is_point, 0, self._step_class(self._units(v)))
        return np.stack([first, step, fine], axis=1)

    def _cells(self) -> np.ndarray:
        """[n_bins, N_FINE + 1] cell edges (even cells for files written before fine_)."""
        edges = np.asarray(self.edges_)
        if self.fine_ is not None:
            return np.asarray(self.fine_)
        n_bins = max(len(edges) - 1, 1)
        hi = edges[np.minimum(np.arange(n_bins) + 1, len(edges) - 1)]
        return edges[:n_bins, None] + (hi - edges[:n_bins])[:, None] * np.linspace(0, 1, N_FINE + 1)[None, :]

    def decode_values(self, tokens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """float64 values with NaN for nulls."""
        first = tokens[:, 0]
        if self.edges_ is None:
            grid = np.asarray([np.nan] + list(self.values_))
            return grid[first]
        P = len(self.points_)
        if not self.n_bins:
            return np.asarray([np.nan] + self.points_)[first]
        n_bins = self.n_bins
        b = (first - 1 - P).clip(0, n_bins - 1)
        fine = tokens[:, -1].clip(0, N_FINE - 1)
        cells = self._cells()
        a, c = cells[b, fine], cells[b, fine + 1]
        last = fine == N_FINE - 1  # the bin's last cell holds its upper edge
        if self.unit_ and self.fine_ is not None:
            step = np.asarray(self.steps_ or [1.0])[tokens[:, 1].clip(0, len(self.steps_) - 1)] if self.steps_ else 1.0
            v = self._draw_on_grid(a, c, last, np.broadcast_to(step, a.shape), b, rng)
        else:  # no grid (or an older file): anywhere in the cell, rounded to the decimals
            v = a + rng.random(len(tokens)) * (c - a)
            v = np.round(v, self.decimals_)
        if P:
            is_point = (first >= 1) & (first <= P)
            v = np.where(is_point, np.asarray(self.points_)[(first - 1).clip(0, P - 1)], v)
        v = v.clip(self.min_, self.max_)
        v[first == NULL] = np.nan
        return v

    def _draw_on_grid(self, a: np.ndarray, c: np.ndarray, last: np.ndarray, step: np.ndarray, b: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
        """A value on the grid inside cell [a, c) (its bin's last cell: [a, c]) that is a
        multiple of its step; when the cell holds no such multiple, the nearest one in the
        bin, else the nearest grid value. Values of a point mass are avoided in cells."""
        unit = self.unit_
        m = step * unit
        edges = np.asarray(self.edges_)
        lo_bin, hi_bin = edges[b], edges[np.minimum(b + 1, len(edges) - 1)]
        first = np.ceil(a / m - 1e-9) * m
        stop = np.where(last, np.floor(c / m + 1e-9) * m + m, np.ceil(c / m - 1e-9) * m)
        count = np.round((stop - first) / m)
        u = rng.random(len(a))
        v = first + np.floor(u * np.maximum(count, 1)) * m
        empty = count < 1
        if empty.any():  # no multiple of the step in the cell: nearest one inside the bin
            near = np.round((a + c) / 2 / m) * m
            ok = (near >= lo_bin) & (near <= hi_bin)
            fallback = np.round(np.clip(a + u * (c - a), lo_bin, hi_bin) / unit) * unit
            v = np.where(empty, np.where(ok, near, fallback), v)
        if self.points_:
            hit = np.isin(v, self.points_)
            if hit.any():  # a point mass holds its own share; a cell value next to it instead
                up = v + unit
                v = np.where(hit, np.where(up <= hi_bin, up, v - unit), v)
        return np.round(v / unit) * unit

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        v = self.decode_values(tokens, rng)
        out = pd.Series(v, name=self.name)
        if self.decimals_ == 0 and not self.dtype.startswith("float"):
            out = out.round()
        return restore_dtype(out, self.dtype)

    def describe(self) -> dict:
        """How the column is represented, for ``lookalike info``."""
        if self.edges_ is None:  # files written before point masses
            return {"values": len(self.values_ or [])}
        out = {"point_masses": len(self.points_), "bins": self.n_bins}
        if self.unit_:
            out["unit"] = self.unit_
        if self.steps_:
            out["rounding_steps"] = [m * self.unit_ for m in self.steps_[1:]]
        return out

    @classmethod
    def from_state(cls, state):
        enc = super().from_state(state)
        # files written before point masses, rounding steps and quantile cells
        for attr, default in (("points_", []), ("fine_", None), ("steps_", None), ("unit_", 0.0)):
            if not hasattr(enc, attr):
                setattr(enc, attr, default)
        return enc
