"""Long regular series: a child table whose dates lie on a calendar grid (daily sales,
hourly readings, weekly counts), hundreds or thousands of steps per subject.

``detect_calendar`` decides from the data's shape alone (never a column's name) whether a
child's ``order_by`` dates form such a grid: the modal step between a subject's events
covers most steps and subjects are long. Its ``Calendar`` then adds context columns to
the child's model frame (``layout.derived_columns`` lists them):

- calendar features of the event's *expected* date, the previous event's date plus one
  step (``__cal.dow``, ``__cal.doy``, ``__cal.hour``, ``__cal.t``: steps since the
  subject's first event): the same value in training and generation, known before the
  event is drawn, so a closure after 24 December is learned as a gap drawn on 25 December;
- seasonal lags ``season{k}.{col}``: the measure ``k`` grid steps before the expected date
  (1, 7, 14 and 364 days for daily data; 1, 24, 48 and 168 hours; 1, 52 and 104 weeks: the
  step before, every season and the shortest one's second cycle), null where that day is missing;
- a seasonal profile ``profile{k}.{col}``: the mean of the measure at the same point of the
  shortest season's last ``cycles`` cycles (7, 14, 21 and 28 days back): the subject's own
  weekly shape, steadier than one week's value;
- a rolling level ``roll{w}.{col}``: the mean of the last ``w`` steps, a step without a
  value (before the subject's first, a closed day) counting as the subject's level: a young
  series starts at its level and leans on its own values step by step, so the noise of its
  first draws does not become its level.

A measure is learned *relative to its level*: the model draws ``rel.{col}``, the value
against the rolling level (``log(value / level)`` for positive right-skewed measures,
``value - level`` otherwise), and the seasonal lags are given the same way. Each subject's
own level (``__level.{child}.{col}``, its mean) is a column of the parent, drawn by the
parent's model from the subject's attributes (store type shapes it) like the number of
events: the first step is taken against it, and ``dev{w}.{col}``, the rolling level against
it, lets the model pull a wandering series back. Generation inverts it exactly
(``restore_measures``), so a small store's next value follows its own level, not the whole
table's spread.

Training frames compute them on whole histories (``calendar_columns``), generation and
continuation from a ``SeriesBuffer``: a ring of each subject's last values on the grid,
updated once per step, so a series costs time and memory linear in its length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = 86_400.0
MIN_REGULAR_SHARE = 0.8  # the modal step covers at least this share of steps ...
MIN_SERIES_LENGTH = 30  # ... and the median subject has at least this many events
SEASONS = (DAY, 7 * DAY, 364 * DAY)  # calendar cycles whose lags are context (364: weekdays align)
MAX_SEASONAL_LAG = 1_000  # steps kept per subject at most
PROFILE_CYCLES = 4  # cycles of the shortest season averaged in its profile
CYCLES = (("hour", DAY), ("dow", 7 * DAY), ("doy", 365 * DAY))  # a feature when the step is shorter
CATEGORICAL_FEATURES = ("hour", "dow")
FREQUENCIES = ((3600.0, "hourly"), (DAY, "daily"), (7 * DAY, "weekly"))

CAL = "__cal."


def feature_col(name: str) -> str:
    return f"{CAL}{name}"


def season_col(k: int, col: str) -> str:
    return f"season{k}.{col}"


def profile_col(k: int, col: str) -> str:
    return f"profile{k}.{col}"


def roll_col(w: int, col: str) -> str:
    return f"roll{w}.{col}"


def rel_col(col: str) -> str:
    return f"rel.{col}"


def dev_col(w: int, col: str) -> str:
    return f"dev{w}.{col}"


def level_col(child: str, col: str) -> str:
    """The parent's column holding each subject's level of ``child.col``."""
    return f"__level.{child}.{col}"


def subject_level(how: str, values: pd.Series, owner: np.ndarray) -> pd.Series:
    """Each subject's level of a measure: its mean (geometric for "log": the level a ratio
    is taken against), indexed by subject."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    if how == "log":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(pd.Series(np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)).groupby(owner).mean())
    return pd.Series(v).groupby(owner).mean()


def to_relative(how: str, value: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A measure against its level (NaN where either is missing or not positive for "log")."""
    value, level = np.asarray(value, dtype="float64"), np.asarray(level, dtype="float64")
    if how == "log":
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (value > 0) & (level > 0)
            return np.where(ok, np.log(np.where(ok, value, 1.0) / np.where(ok, level, 1.0)), np.nan)
    return value - level


def from_relative(how: str, rel: np.ndarray, level: np.ndarray) -> np.ndarray:
    rel, level = np.asarray(rel, dtype="float64"), np.asarray(level, dtype="float64")
    return level * np.exp(rel) if how == "log" else level + rel


def _relative_kind(v: np.ndarray) -> str:
    """"log" for positive right-skewed measures (counts, sales, prices), else "diff"."""
    v = v[~np.isnan(v)]
    if len(v) < 3 or v.min() <= 0:
        return "diff"
    m, sd = v.mean(), v.std()
    return "log" if sd > 0 and np.mean((v - m) ** 3) / sd**3 > 0 else "diff"


def _decimals(v: np.ndarray) -> int:
    v = v[~np.isnan(v)][:10_000]
    return next((d for d in range(7) if np.allclose(np.round(v, d), v, rtol=0, atol=1e-9)), 6)


def restore_measures(cal: Calendar, drawn: pd.DataFrame, context: pd.DataFrame,
                     anchor: dict[str, np.ndarray] | None = None) -> None:
    """The measures of drawn events back from their level-relative values (in place):
    ``context`` holds each row's rolling level, ``anchor`` each row's subject level (where
    there is no rolling level yet); rows with neither keep the measure drawn."""
    for c, how in cal.relative.items():
        rel, level = rel_col(c), roll_col(cal.window, c)
        if rel not in drawn.columns or level not in context:
            continue
        lv = np.asarray(context[level], dtype="float64")
        r = np.asarray(drawn[rel], dtype="float64")
        raw = np.asarray(drawn[c], dtype="float64") if c in drawn.columns else np.full(len(drawn), np.nan)
        if anchor is not None and c in anchor:
            lv = np.where(np.isnan(lv), anchor[c], lv)
        v = np.where(np.isnan(lv), raw, from_relative(how, r, lv))
        drawn[c] = np.round(v, cal.decimals.get(c, 6))


def _relative_lags(cal: Calendar, out: dict[str, np.ndarray], derived: list,
                   anchor: dict[str, np.ndarray] | None) -> None:
    """Seasonal lags of relative measures given against the current level, like the target;
    the rolling level against the subject's (``dev``)."""
    for d in derived:
        how = cal.relative.get(d.column)
        roll = out.get(roll_col(cal.window, d.column))
        if d.kind in ("seasonal", "profile") and how and roll is not None:
            out[d.name] = to_relative(how, out[d.name], roll)
        elif d.kind == "deviation" and how and roll is not None:
            a = anchor.get(d.column) if anchor else None
            out[d.name] = to_relative(how, roll, a) if a is not None else np.full(len(roll), np.nan)


@dataclass(frozen=True)
class Calendar:
    """A child's grid: ``step`` seconds apart, shifted ``phase`` seconds from the epoch's
    grid; the calendar features, seasonal lags (in steps), rolling window (steps) and the
    measures they are computed for. JSON-able (saved in the layout)."""

    step: float
    phase: float = 0.0
    frequency: str = "regular"
    features: list[str] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    window: int = 0
    columns: list[str] = field(default_factory=list)
    relative: dict[str, str] = field(default_factory=dict)  # measure -> "log" | "diff" against its level
    decimals: dict[str, int] = field(default_factory=dict)  # a restored measure's resolution
    profile: int = 0  # the season (steps) whose last ``cycles`` cycles are averaged (0: none)
    cycles: int = 0

    @property
    def span(self) -> int:
        """Grid steps a subject's buffer keeps: the longest lag, window or profile."""
        return max([*self.lags, self.window, self.profile * self.cycles, 1])

    def grid(self, secs: np.ndarray) -> np.ndarray:
        """Seconds since the epoch -> grid index (float; NaN stays NaN)."""
        return np.round((np.asarray(secs, dtype="float64") - self.phase) / self.step)

    def seconds(self, grid: np.ndarray) -> np.ndarray:
        return np.asarray(grid, dtype="float64") * self.step + self.phase

    def snap(self, secs: np.ndarray) -> np.ndarray:
        """Seconds on the nearest grid point."""
        return self.seconds(self.grid(secs))

    def features_at(self, grid: np.ndarray, first: np.ndarray) -> dict[str, np.ndarray]:
        """Calendar features of grid points ``grid`` (NaN: unknown) of subjects whose first
        event lies at grid point ``first``."""
        grid = np.asarray(grid, dtype="float64")
        secs = self.seconds(grid)
        ok = ~np.isnan(secs)
        whole = np.floor(np.where(ok, secs, 0.0)).astype(np.int64)
        days = np.floor_divide(whole, int(DAY))
        out = {}
        for name in self.features:
            if name == "hour":
                v = (np.mod(whole, int(DAY)) // 3600).astype("float64")
            elif name == "dow":  # Monday = 0; 1 January 1970 was a Thursday
                v = np.mod(days + 3, 7).astype("float64")
            elif name == "doy":
                d = days.astype("datetime64[D]")
                v = (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64).astype("float64") + 1
            else:  # "t": steps since the subject's first event
                v = grid - np.asarray(first, dtype="float64")
            out[name] = np.where(ok, v, np.nan)
        return out


def detect_calendar(order_secs: np.ndarray, owner: np.ndarray, numeric: list[str],
                    rows: pd.DataFrame | None = None) -> Calendar | None:
    """The grid of a child's dates (seconds since the epoch, rows of each subject together
    and in order; ``owner``: each row's subject), or None when the series are not long and
    regular. ``numeric``: the child's measures, candidates for seasonal lags; ``rows``
    (their values) decide how each is learned against its level."""
    secs = np.asarray(order_secs, dtype="float64")
    owner = np.asarray(owner)
    if len(secs) < 2 or np.isnan(secs).any():
        return None
    same = owner[1:] == owner[:-1]
    diffs = np.diff(secs)[same]
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return None
    values, counts = np.unique(diffs, return_counts=True)
    step = float(values[np.argmax(counts)])
    lengths = pd.Series(owner).value_counts().to_numpy()
    if counts.max() / len(diffs) < MIN_REGULAR_SHARE or np.median(lengths) < MIN_SERIES_LENGTH:
        return None
    phases, pcounts = np.unique(np.mod(secs, step), return_counts=True)
    phase = float(phases[np.argmax(pcounts)])
    # the median subject's span in steps: lags longer than two thirds of it see too little
    first = pd.Series(secs).groupby(owner, sort=False).agg(["min", "max"])
    span = float(np.median((first["max"] - first["min"]) / step))
    seasons = sorted({int(round(p / step)) for p in SEASONS if p > step and abs(p / step - round(p / step)) < 1e-9})
    # the shortest season's second cycle too: what persists beyond one cycle (a level that
    # moves slowly) is seen, not only what repeats
    seasons = [k for k in sorted({*seasons, *([2 * seasons[0]] if seasons else [])})
               if k <= MAX_SEASONAL_LAG and k <= span * 2 / 3]
    window = max(4, min(4 * seasons[0], int(span // 8))) if seasons else max(4, min(28, int(span // 8)))
    lags = [1, *seasons]  # the step before, against the level like the seasons: how far today sits from it
    # the shortest season's profile: its last cycles averaged, the subject's own weekly shape
    profile = seasons[0] if seasons and PROFILE_CYCLES * seasons[0] <= span * 2 / 3 else 0
    features = [name for name, cycle in CYCLES if step < cycle] + ["t"]
    frequency = next((name for s, name in FREQUENCIES if s == step), "regular")
    relative, decimals = {}, {}
    if rows is not None:
        for c in numeric:
            v = pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype="float64")
            relative[c], decimals[c] = _relative_kind(v), _decimals(v)
    return Calendar(step=step, phase=phase, frequency=frequency, features=features, lags=lags, window=window,
                    columns=list(numeric), relative=relative, decimals=decimals, profile=profile,
                    cycles=PROFILE_CYCLES if profile else 0)


def calendar_columns(cal: Calendar, order_secs: np.ndarray, values: pd.DataFrame, owner: np.ndarray,
                     derived: list, anchor: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The calendar, seasonal-lag and rolling-level columns of every row of whole
    histories (rows of each subject together and in order; ``order_secs``: each row's
    actual date). ``derived``: the layout's ``DerivedColumn``s of kinds calendar
    (``column``: the feature), seasonal (``lag`` steps back), rolling (``lag``: the window),
    deviation and relative; ``anchor``: per measure, each row's subject level."""
    owner = np.asarray(owner)
    n = len(owner)
    grid = cal.grid(order_secs)
    codes, _ = pd.factorize(owner, sort=False)
    new = np.r_[True, codes[1:] != codes[:-1]] if n else np.zeros(0, dtype=bool)
    expected = np.r_[np.nan, grid[:-1] + 1][:n] if n else grid.copy()
    expected[new] = np.nan
    first = pd.Series(grid).groupby(codes).transform("min").to_numpy() if n else grid
    buf = _DenseHistory(cal, grid, codes, values)
    out = {}
    feats = cal.features_at(expected, first)
    for d in derived:
        if d.kind == "calendar":
            out[d.name] = feats[d.column]
        elif d.kind == "seasonal":
            out[d.name] = buf.at(d.column, codes, expected - d.lag)
        elif d.kind == "profile":
            out[d.name] = _nanmean([buf.at(d.column, codes, expected - j * d.lag) for j in range(1, cal.cycles + 1)])
        elif d.kind == "rolling":
            out[d.name] = buf.mean(d.column, codes, expected, d.lag, _anchor_of(anchor, d.column, n))
    _relative_lags(cal, out, derived, anchor)
    for d in derived:  # the drawn target: each value against the level before it (none yet: the subject's)
        if d.kind == "relative":
            level = buf.mean(d.column, codes, expected, cal.window, _anchor_of(anchor, d.column, n))
            if anchor is not None and d.column in anchor:
                level = np.where(np.isnan(level), anchor[d.column], level)
            out[d.name] = to_relative(cal.relative[d.column], pd.to_numeric(values[d.column], errors="coerce"), level)
    return pd.DataFrame(out, index=values.index)


def _nanmean(parts: list[np.ndarray]) -> np.ndarray:
    """Elementwise mean of the non-missing values (NaN where all are missing)."""
    a = np.stack(parts)
    seen = (~np.isnan(a)).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, np.nansum(a, 0) / np.maximum(seen, 1), np.nan)


def _anchor_of(anchor: dict[str, np.ndarray] | None, col: str, n: int) -> np.ndarray:
    if anchor is None or col not in anchor:
        return np.full(n, np.nan)
    return np.asarray(anchor[col], dtype="float64")


def _filled_mean(total: np.ndarray, seen: np.ndarray, w: int, anchor: np.ndarray) -> np.ndarray:
    """The mean of ``w`` steps of which ``seen`` hold values summing to ``total``, the others
    counting as ``anchor`` (NaN: the mean of the seen ones; none seen: NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        seen_mean = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
        return np.where(np.isnan(anchor), seen_mean, (total + (w - seen) * np.nan_to_num(anchor)) / w)


class _DenseHistory:
    """Each subject's measures on a dense grid (NaN where a step is missing), with
    cumulative sums for rolling means: one array over all subjects."""

    def __init__(self, cal: Calendar, grid: np.ndarray, codes: np.ndarray, values: pd.DataFrame):
        n_sub = int(codes.max()) + 1 if len(codes) else 0
        g = pd.Series(grid).groupby(codes)
        self.lo = g.min().reindex(range(n_sub)).to_numpy()
        hi = g.max().reindex(range(n_sub)).to_numpy()
        size = np.nan_to_num(hi - self.lo + 1).astype(np.int64)
        self.start = np.r_[0, np.cumsum(size)[:-1]].astype(np.int64)
        self.size = size
        where = self.start[codes] + (grid - self.lo[codes]).astype(np.int64) if len(codes) else np.zeros(0, np.int64)
        self.dense, self.csum, self.ccount = {}, {}, {}
        for c in cal.columns:
            arr = np.full(int(size.sum()), np.nan)
            arr[where] = pd.to_numeric(values[c], errors="coerce").to_numpy(dtype="float64")
            self.dense[c] = arr
            self.csum[c] = np.r_[0.0, np.cumsum(np.nan_to_num(arr))]
            self.ccount[c] = np.r_[0, np.cumsum(~np.isnan(arr))]

    def _index(self, codes: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = g - self.lo[codes]
        ok = ~np.isnan(rel) & (rel >= 0) & (rel < self.size[codes])
        return ok, self.start[codes] + np.where(ok, rel, 0).astype(np.int64)

    def at(self, col: str, codes: np.ndarray, g: np.ndarray) -> np.ndarray:
        ok, idx = self._index(codes, g)
        return np.where(ok, self.dense[col][idx] if len(idx) else np.zeros(0), np.nan)

    def mean(self, col: str, codes: np.ndarray, e: np.ndarray, w: int, anchor: np.ndarray) -> np.ndarray:
        """Mean of grid points e-w .. e-1 of each row's subject, a step without a value
        counting as the row's ``anchor`` (``_filled_mean``); NaN where e is."""
        lo = np.maximum(e - w, self.lo[codes])
        hi = np.minimum(e - 1, self.lo[codes] + self.size[codes] - 1)
        ok = ~np.isnan(e) & (hi >= lo)
        a = self.start[codes] + np.where(ok, lo - self.lo[codes], 0).astype(np.int64)
        b = self.start[codes] + np.where(ok, hi - self.lo[codes], -1).astype(np.int64) + 1
        s = self.csum[col][b] - self.csum[col][a]
        k = np.where(ok, self.ccount[col][b] - self.ccount[col][a], 0)
        return np.where(np.isnan(e), np.nan, _filled_mean(np.where(ok, s, 0.0), k, w, anchor))


class SeriesBuffer:
    """Each subject's last ``cal.span`` grid steps of its measures (a ring, NaN where a step
    is missing) and its first grid point: what the next event's seasonal lags, rolling
    level and calendar need, in O(subjects x span) memory and O(subjects) time per step."""

    def __init__(self, cal: Calendar):
        self.cal = cal
        self.L = cal.span + 1
        self.cols = list(cal.columns)
        self.vals = np.full((0, len(self.cols), self.L), np.nan, dtype="float64")
        self.idx = np.full((0, self.L), -(2**62), dtype=np.int64)  # grid point each slot holds
        self.first = np.zeros(0, dtype="float64")
        self.last = np.zeros(0, dtype="float64")
        self.anchor = np.full((0, len(self.cols)), np.nan)  # each subject's level per measure (the parent's)

    def set_anchor(self, subjects: np.ndarray, levels: dict[str, np.ndarray]) -> None:
        subjects = np.asarray(subjects, dtype=np.int64)
        self._grow(int(subjects.max()) + 1 if len(subjects) else 0)
        for c, v in levels.items():
            self.anchor[subjects, self.cols.index(c)] = np.asarray(v, dtype="float64")

    def anchors(self, subjects: np.ndarray) -> dict[str, np.ndarray]:
        return {c: self.anchor[subjects, j] for j, c in enumerate(self.cols)}

    def _grow(self, n: int) -> None:
        m = len(self.first)
        if n <= m:
            return
        self.vals = np.concatenate([self.vals, np.full((n - m, len(self.cols), self.L), np.nan)])
        self.idx = np.concatenate([self.idx, np.full((n - m, self.L), -(2**62), dtype=np.int64)])
        self.first = np.r_[self.first, np.full(n - m, np.nan)]
        self.last = np.r_[self.last, np.full(n - m, np.nan)]
        self.anchor = np.concatenate([self.anchor, np.full((n - m, len(self.cols)), np.nan)])

    def push(self, subjects: np.ndarray, order_secs: np.ndarray, values: pd.DataFrame) -> None:
        """One event per subject (or a history: several per subject, in order)."""
        subjects = np.asarray(subjects, dtype=np.int64)
        if not len(subjects):
            return
        self._grow(int(subjects.max()) + 1)
        g = self.cal.grid(order_secs)
        ok = ~np.isnan(g)
        subjects, g = subjects[ok], g[ok].astype(np.int64)
        vals = np.column_stack([pd.to_numeric(values[c], errors="coerce").to_numpy(dtype="float64")[ok]
                                for c in self.cols]) if self.cols else np.zeros((len(g), 0))
        gf = g.astype("float64")
        np.fmin.at(self.first, subjects, gf)
        np.fmax.at(self.last, subjects, gf)
        keep = g > self.last[subjects] - self.L  # a history: only each subject's last L steps matter
        subjects, g, vals = subjects[keep], g[keep], vals[keep]
        slot = np.mod(g, self.L)
        self.vals[subjects, :, slot] = vals
        self.idx[subjects, slot] = g

    def latest(self, subjects: np.ndarray) -> np.ndarray:
        """Each subject's latest grid point (NaN before its first event)."""
        subjects = np.asarray(subjects, dtype=np.int64)
        self._grow(int(subjects.max()) + 1 if len(subjects) else 0)
        return self.last[subjects]

    def _at(self, subjects: np.ndarray, g: np.ndarray) -> np.ndarray:
        """[n, C] values at grid points g (NaN: missing or not kept)."""
        gi = np.where(np.isnan(g), -1, g).astype(np.int64)
        slot = np.mod(gi, self.L)
        hit = (self.idx[subjects, slot] == gi) & ~np.isnan(g)
        return np.where(hit[:, None], self.vals[subjects, :, slot], np.nan)

    def _mean(self, subjects: np.ndarray, e: np.ndarray, w: int) -> np.ndarray:
        """[n, C] mean of grid points e-w .. e-1, a step without a value counting as the
        subject's anchor (``_filled_mean``); NaN where e is."""
        g = np.where(np.isnan(e), -1, e).astype(np.int64)[:, None] - np.arange(1, w + 1)[None, :]  # [n, w]
        slot = np.mod(g, self.L)
        hit = (self.idx[subjects[:, None], slot] == g) & ~np.isnan(e)[:, None]
        vals = self.vals[subjects[:, None], :, slot]  # [n, w, C]
        ok = hit[:, :, None] & ~np.isnan(vals)
        seen = ok.sum(1)
        total = np.where(ok, vals, 0.0).sum(1)
        return np.where(np.isnan(e)[:, None], np.nan, _filled_mean(total, seen, w, self.anchor[subjects]))

    def context(self, subjects: np.ndarray, derived: list) -> dict[str, np.ndarray]:
        """The calendar columns of each subject's next event (expected one step after its
        latest), by the same names as ``calendar_columns``."""
        subjects = np.asarray(subjects, dtype=np.int64)
        self._grow(int(subjects.max()) + 1 if len(subjects) else 0)
        e = self.last[subjects] + 1
        feats = self.cal.features_at(e, self.first[subjects])
        out: dict[str, np.ndarray] = {}
        means: dict[int, np.ndarray] = {}
        for d in derived:
            if d.kind == "calendar":
                out[d.name] = feats[d.column]
                continue
            if d.kind not in ("seasonal", "profile", "rolling"):
                continue  # deviation: from the rolling level below
            c = self.cols.index(d.column)
            if d.kind == "seasonal":
                out[d.name] = self._at(subjects, e - d.lag)[:, c]
            elif d.kind == "profile":
                out[d.name] = _nanmean([self._at(subjects, e - j * d.lag)[:, c] for j in range(1, self.cal.cycles + 1)])
            else:
                w = d.lag
                if w not in means:
                    means[w] = self._mean(subjects, e, w)
                out[d.name] = means[w][:, c]
        _relative_lags(self.cal, out, derived, self.anchors(subjects))
        return out


class StepDrawer:
    """Draws one event of many subjects at a time from a series table's flat model, the
    way ``Generator.generate_batches`` does (``sample_tokens`` with the context given,
    temperature and top-p, the same random streams) but built for thousands of steps: the
    parent's columns are encoded once, each step encodes only the columns that change
    (position, lags, calendar) and decodes only the columns the model draws. A series of
    n steps then costs n small model calls, not n pandas round trips."""

    def __init__(self, g, static: pd.DataFrame, context: list[str], order_by: str | None):
        from ..controls import seed_tokens

        self.g = g
        enc = g.encoder_
        self.enc = enc
        self.S = len(enc.subcolumns)
        given = [c for c in static.columns if c in enc.columns and enc.subs_of(c)]
        # the parent's columns (constant along a series): encoded once; nulls are facts
        self.static_tokens, mask = seed_tokens(enc, static[given].reset_index(drop=True))
        for c in given:
            mask[:, enc.subs_of(c)] = True
        self.static_mask = mask
        self.dynamic = [c for c in context if c in enc.columns and enc.subs_of(c) and c not in given]
        self.drawn = [c for c in enc.columns if c not in context and enc.subs_of(c)]
        self.order_by = order_by
        self.allowed = enc.allowed()
        self.numbers = {c: _array_encoder(enc.encoder(c)) for c in self.dynamic + self.drawn}

    @staticmethod
    def usable(g) -> bool:
        """Models with generated texts keep the general path (their texts need the rows)."""
        return getattr(g, "text_", None) is None

    def draw(self, rows: np.ndarray, context: dict[str, np.ndarray], first: np.ndarray, forbid_null: list[str],
             gen, rng: np.random.Generator, temperature: float, top_p: float) -> pd.DataFrame:
        """The next event of the parent rows ``rows`` given ``context`` (the dynamic context
        columns, row order); ``first``: rows drawing their first event (the order value
        drawn; later events' order values are null: their gap holds the step)."""
        from ..controls import null_forbidden
        from ..encoding.base import NULL
        from ..sampling import sample_tokens

        enc, m = self.enc, len(rows)
        fixed, mask = self.static_tokens[rows].copy(), self.static_mask[rows].copy()
        for c in self.dynamic:
            subs = enc.subs_of(c)
            if c in context:
                v, fast = _as_numbers(np.asarray(context[c])), self.numbers[c]
                if fast is not None and v is not None:
                    fixed[:, subs] = fast.encode(v)
                else:
                    fixed[:, subs] = enc.encoder(c).encode(pd.Series(context[c]))
            else:
                fixed[:, subs] = 0
                fixed[:, subs[0]] = NULL
            mask[:, subs] = True  # a null here is a fact, not a gap
        if self.order_by in enc.columns and enc.subs_of(self.order_by):
            subs = enc.subs_of(self.order_by)
            later = ~np.asarray(first, dtype=bool)
            fixed[np.ix_(later, subs)] = 0
            fixed[later, subs[0]] = NULL
            mask[np.ix_(later, subs)] = True
        allowed = self.allowed
        if forbid_null:
            allowed = null_forbidden(allowed, [enc.subs_of(c)[0] for c in forbid_null
                                               if c in enc.columns and enc.subs_of(c)])
        tokens = sample_tokens(self.g.model_, m, allowed, gen, fixed, mask, temperature=temperature, top_p=top_p)
        out = {}
        for c in self.drawn:
            subs, e = enc.subs_of(c), enc.encoder(c)
            t = tokens[:, subs[0]: subs[-1] + 1]
            if (t[:, 0] == NULL).all() and mask[:, subs[0]].all():
                out[c] = np.full(m, np.nan)  # given as null (a later event's order value): nothing to decode
            elif self.numbers.get(c) is not None and e.kind == "numeric":
                out[c] = e.decode_values(t, rng)  # floats on the column's grid; dtypes come back at the output
            else:
                out[c] = e.decode(t, rng).to_numpy()
        for c in context:
            out[c] = np.asarray(context[c])
        return pd.DataFrame(out, copy=False)


def _array_encoder(e):
    """A copy of a numeric or date encoder that takes float arrays (seconds for dates)
    as they are: a step's context is encoded without a pandas round trip. None for other kinds."""
    import copy

    from ..encoding.numeric import NumericEncoder

    if not isinstance(e, NumericEncoder):
        return None
    view = copy.copy(e)
    view.values = lambda v: v
    if getattr(view, "fine_", None) is not None:  # the cell edges as one array, not rebuilt per call
        view.fine_ = np.asarray(view.fine_)
    return view


def _as_numbers(v: np.ndarray) -> np.ndarray | None:
    """Floats (dates: seconds since the epoch) or None when ``v`` holds neither."""
    if v.dtype.kind == "M":
        ns = v.astype("datetime64[ns]")
        return np.where(np.isnat(ns), np.nan, ns.astype(np.int64) / 1e9)
    if v.dtype.kind in "fiu":
        return v.astype("float64")
    return None
