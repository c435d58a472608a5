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

import math

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
# differential privacy (fit_dp): data-independent grids and the queries' weights
DP_DECADES = (-6, 16)  # range buckets: ±1-2-5 steps of the decades 10^-6 .. 10^16, and zero
DP_CELLS = 100  # cells inside the live range buckets, split between them
DP_MAX_UNIT_CELLS = 100  # a live bucket of at most this many grid values gets a cell per value
DP_RANGE_WEIGHT = 0.25  # the range query only finds buckets holding many rows: 2x the noise is fine
DP_RESOLUTION_WEIGHT = 0.25
DP_FINER_SHARE = 0.02  # a unit is kept when at most this share of the values is finer
DP_CELL_SIGMAS = 4  # cells are sized to expect this many σ of noise each at least
DP_REST_Z = 1.0  # inside a bucket, cells below this many σ get none of its rows (noise, mostly)


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
        self.fine_ = self._fine_cells(rest, edges, self.unit_)
        self.steps_ = self._steps(rest)
        return self

    # --- differential privacy --------------------------------------------------------
    @classmethod
    def dp_weight(cls, dtype: str) -> float:
        return DP_RANGE_WEIGHT + 1.0 + (0.0 if cls._dp_integer(dtype) else DP_RESOLUTION_WEIGHT)

    @classmethod
    def _dp_integer(cls, dtype: str) -> bool:
        return dtype.lower().startswith(("int", "uint"))

    def _dp_range_edges(self) -> np.ndarray:
        """The range query's data-independent buckets [e_i, e_i+1): signed 1-2-5 steps of
        every decade (1, 2, 5, 10, 20, ...), and [0, 1e-6) for zero."""
        pos = np.array([m * 10.0**k for k in range(*DP_DECADES) for m in (1, 2, 5)] + [10.0 ** DP_DECADES[1]])
        return np.concatenate([-pos[::-1], [0.0], pos])

    def _dp_resolutions(self) -> list[float]:
        """Candidate units, finest first (the resolution query's buckets)."""
        return [10.0 ** -d for d in range(6, 0, -1)] + [float(m) for m in self.unit_multiples]

    def fit_dp(self, s: pd.Series, rng: np.random.Generator, dp) -> NumericEncoder:
        """DP state from three noisy histograms: the values' resolution (non-integer
        dtypes), which data-independent range buckets hold values (and null), and counts of
        cells inside those buckets. Point masses are single-value cells with large noisy
        counts; bin edges are the noisy counts' quantiles (never a data value); positions
        inside a bin are even cells; no rounding steps."""
        v = self.values(s)
        isnull = np.isnan(v)
        x = v[~isnull]
        self.values_, self.fine_, self.steps_, self.points_ = None, None, None, []
        self.unit_ = self._dp_unit(x, dp)
        self.decimals_ = int(min(max(round(-math.log10(self.unit_)), 0), 6)) if self.unit_ and self.unit_ < 1 else (
            0 if self.unit_ else 6)
        edges = self._dp_range_edges()
        bucket = (np.searchsorted(edges, x, side="right") - 1).clip(0, len(edges) - 2)
        noisy = dp.counts(np.concatenate([[isnull.sum()], np.bincount(bucket, minlength=len(edges) - 1)]), DP_RANGE_WEIGHT)
        self.has_null_ = bool(noisy[0] >= dp.presence(DP_RANGE_WEIGHT))
        live = np.flatnonzero(noisy[1:] >= dp.presence(DP_RANGE_WEIGHT))
        null = max(noisy[0], 0.0) if self.has_null_ else 0.0
        if not len(live):  # no values held by enough rows to show
            self.min_, self.max_, self.edges_ = 0.0, 0.0, []
            self.dp_marginals = [np.array([null])]
            return self
        lo, hi, single, owner = self._dp_cells(edges, live, dp)
        cell = np.searchsorted(lo, x, side="right") - 1
        inside = (cell >= 0) & (x < hi[cell.clip(0)])
        counts = dp.counts(np.bincount(cell[inside], minlength=len(lo)).astype(float))
        held = noisy[1:][live]  # the live buckets' noisy row counts: the masses the cells share
        # point masses: single values that many rows hold, by a confident margin
        share = POINT_MASS_SHARE * held.sum() if len(lo) > MAX_DISCRETE else 0.0
        is_point = single & (counts >= max(dp.mass(), share))
        if is_point.sum() > MAX_POINT_MASSES:
            is_point &= counts > np.sort(counts[is_point])[::-1][MAX_POINT_MASSES]
        self.points_ = [float(p) for p in lo[is_point]]
        marg = [null, *np.clip(counts[is_point], 0, None)]
        bounds = [*self.points_]
        # the other rows: each bucket's rest, spread over its other cells by their noisy counts
        mass = np.zeros(len(lo))
        for k in range(len(live)):
            cells = np.flatnonzero((owner == k) & ~is_point)
            left = held[k] - counts[(owner == k) & is_point].sum()
            if not len(cells) or left <= 0:
                continue
            w = np.where(counts[cells] >= DP_REST_Z * dp.std(), counts[cells], 0.0)
            mass[cells] = left * (w / w.sum() if w.sum() > 0 else np.full(len(cells), 1 / len(cells)))
        rest = mass > 0
        self.edges_ = []
        if mass.sum() >= dp.presence():
            a, b, m = lo[rest], hi[rest], mass[rest]
            b = np.where(single[rest], a + (self.unit_ or 0.0), b)  # a value's cell [v, v + unit)
            xs, cum = np.stack([a, b], 1).ravel(), np.stack([np.cumsum(m) - m, np.cumsum(m)], 1).ravel()
            n_bins = int(np.clip(m.sum() // MIN_ROWS_PER_BIN, 1, N_BINS))
            cuts = np.interp(np.linspace(0, m.sum(), n_bins + 1), cum, xs)  # the noisy quantiles
            bin_edges = np.unique(np.concatenate([[a[0]], cuts[1:-1], [b[-1]]]))
            if len(bin_edges) < 2:
                bin_edges = np.array([a[0], b[-1]])
            self.edges_ = [float(e) for e in bin_edges]
            self.fine_ = [[float(c) for c in np.linspace(e0, e1, N_FINE + 1)] for e0, e1 in zip(bin_edges[:-1], bin_edges[1:])]
            marg += list(np.diff(np.interp(bin_edges, xs, cum)))
            bounds += [bin_edges[0], bin_edges[-1]]
        if not bounds:  # values, but none held by enough rows to show
            self.min_, self.max_ = 0.0, 0.0
            self.dp_marginals = [np.array([null])]
            return self
        self.min_, self.max_ = float(min(bounds)), float(max(bounds))
        self.dp_marginals = [np.array(marg)] + [None] * (len(self.cardinalities) - 1)
        return self

    def _dp_unit(self, x: np.ndarray, dp) -> float:
        """The grid: 1 for integer dtypes (no query), else the coarsest candidate unit that
        (by a noisy histogram of each value's coarsest unit) no noticeable mass is finer than;
        0 (continuous) when values are finer than every candidate."""
        if self._dp_integer(self.dtype):
            return self.base_unit
        units = self._dp_resolutions()
        cls = np.full(len(x), -1)
        for j, u in enumerate(units):
            q = np.round(x / u)
            cls[np.isclose(q * u, x, rtol=1e-12, atol=u * 1e-6) & (np.abs(q) < MAX_GRID)] = j
        noisy = dp.counts(np.bincount(cls + 1, minlength=len(units) + 1).astype(float), DP_RESOLUTION_WEIGHT)
        finer = np.cumsum(noisy)  # finer[j]: rows with no unit or one finer than units[j] (noise adds up)
        coarse = noisy.sum() - finer
        noise = dp.presence(DP_RESOLUTION_WEIGHT) * np.sqrt(np.arange(1, len(units) + 1))
        ok = [j for j in range(len(units))
              if finer[j] <= max(DP_FINER_SHARE * noisy.sum(), noise[j]) and finer[j] <= coarse[j]]
        return units[ok[-1]] if ok else 0.0

    def _dp_cells(self, edges: np.ndarray, live: np.ndarray, dp) -> tuple[np.ndarray, ...]:
        """Cells [lo, hi) inside the live buckets: one per grid value where a bucket holds
        few of them (``single``: the cell is the value lo), else even cells; ``owner``: the
        cell's bucket (its index in ``live``)."""
        # cells expected to hold several σ each: fewer on small tables or under more noise
        total = np.clip(dp.rows / (DP_CELL_SIGMAS * dp.std()), 4 * len(live), DP_CELLS)
        per = int(np.clip(total // len(live), 4, 50))
        lo, hi, single, owner = [], [], [], []
        for k, i in enumerate(live):
            start = len(lo)
            a, b = edges[i], edges[i + 1]
            if a == 0.0 and b <= 1e-6:  # the zero bucket
                lo.append(0.0)
                hi.append(b)
                single.append(True)
                owner.append(k)
                continue
            u = self.unit_
            if u and (b - a) / u <= DP_MAX_UNIT_CELLS:
                vals = np.arange(math.ceil(a / u - 1e-9), math.ceil(b / u - 1e-9)) * u
                vals = vals[(vals >= a) & (vals < b)]
                lo += list(vals)
                hi += list(vals + u)
                single += [True] * len(vals)
            else:
                cut = np.linspace(a, b, per + 1)
                lo += list(cut[:-1])
                hi += list(cut[1:])
                single += [False] * per
            owner += [k] * (len(lo) - start)
        return np.asarray(lo), np.asarray(hi), np.asarray(single, dtype=bool), np.asarray(owner)

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
    def _fine_cells(rest: np.ndarray, edges: np.ndarray, unit: float = 0.0) -> list[list[float]]:
        """Per bin, N_FINE + 1 cell edges: the bin's own quantiles when it holds enough
        rows, else even cells; on a grid (``unit``), even cells end on grid values, so a
        bin of at most N_FINE grid values gives each value a cell of its own (unsnapped,
        a cell may hold none or two of them and move the values between its neighbours)."""
        n_bins = len(edges) - 1
        b = (np.searchsorted(edges, rest, side="right") - 1).clip(0, n_bins - 1)
        cells = []
        for i in range(n_bins):
            inside = np.sort(rest[b == i])
            lo, hi = edges[i], edges[i + 1]
            if len(inside) >= MIN_ROWS_PER_FINE_CELL * N_FINE:
                q = np.quantile(inside, np.linspace(0, 1, N_FINE + 1), method="inverted_cdf")
            elif unit:
                q = np.ceil(np.linspace(lo, hi, N_FINE + 1) / unit - 1e-9) * unit
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
    def own_details(self) -> bool:
        """With the full N_BINS bins, a bin holds at most ~1% of the values: where a value
        sits inside its bin (and its rounding step) says little about the other columns, and
        conditioning it on them mostly lets the model memorise rows (housing: DCR share 0.536
        -> 0.528, airbnb identical rows 69.2% -> 68.6% against the holdout's 69.0%). On
        fewer, wider bins (small tables) the position still carries the row's structure."""
        return self.n_bins >= N_BINS and len(self.cardinalities) > 1

    def detail_applies(self) -> list[np.ndarray | None]:
        """A value's rounding step and position inside its bin mean something only for the
        bins' tokens: null and point-mass rows carry a 0 there that says nothing."""
        cards = self.cardinalities
        if len(cards) < 2:
            return [None] * len(cards)
        return [None] + [np.arange(cards[0]) > len(self.points_)] * (len(cards) - 1)

    def token_positions(self) -> list[np.ndarray | None]:
        """The value token's place in the column: a bin by its middle, a point mass by where
        its value falls among the bins (by rank among the point masses on a column without
        bins); the position inside a bin by its cell. Null and the rounding step have none."""
        out: list[np.ndarray | None] = [None] * len(self.cardinalities)
        if self.edges_ is None:  # files from before point masses: one token per value, in order
            n = len(self.values_)
            out[0] = np.concatenate([[np.nan], np.arange(n) / max(n - 1, 1)])
            return out
        P, n_bins = len(self.points_), self.n_bins
        first = np.full(1 + P + n_bins, np.nan)
        if n_bins:
            edges, pts = np.asarray(self.edges_, dtype=np.float64), np.asarray(self.points_, dtype=np.float64)
            j = (np.searchsorted(edges, pts, side="right") - 1).clip(0, n_bins - 1)
            within = ((pts - edges[j]) / np.maximum(edges[j + 1] - edges[j], 1e-12)).clip(0, 1)
            first[1 : 1 + P] = (j + within) / n_bins
            first[1 + P :] = (np.arange(n_bins) + 0.5) / n_bins
            out[-1] = (np.arange(N_FINE) + 0.5) / N_FINE
        else:
            first[1:] = np.arange(P) / max(P - 1, 1)
        out[0] = first
        return out

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
        # a value on an even cell's edge belongs to the cell above it, as decoding reads the
        # cell; an edge like 2.2 + 7 * 0.1 = 2.9000000000000004 must not push 2.9 below it
        v_cell = v + (self.unit_ * 1e-6 if self.unit_ else 0.0)
        fine = np.empty(len(v), dtype=np.int64)
        for i in np.unique(b):
            rows = b == i
            fine[rows] = np.searchsorted(cells[i], v_cell[rows], side="right") - 1
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
