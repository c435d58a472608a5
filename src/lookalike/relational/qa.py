"""QA for related tables, with the flat report's definitions (10 quantile bins, top-10
categories, accuracy = 1 - TVD of binned distributions):

- ``sequence_lengths``: events per subject (zeros included);
- ``univariate`` / ``bivariate``: the child's own columns;
- ``parent_child``: every (child column, parent column) pair, the child row joined to its parent;
- ``coherence``: (value now, value next) pairs of consecutive events of one subject;
- ``distinct_per_subject``: number of distinct categories per subject;
- ``time_gaps``: gaps between consecutive events (order column);
- ``integrity``: dangling foreign keys, null shares, duplicate and reused primary keys;
- ``series`` (a child whose dates form a calendar, ``series.py``): per measure, the median
  per-subject autocorrelation at the seasonal lags, the weekday (or hour) profile, the
  accuracy of the values, of each parent attribute × subject level, and a few series
  (``qa/timeseries.py`` defines the figures).

Each figure is given for the synthetic tables and, as the reference, for the holdout
subjects (real rows never trained on), both against the training tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..qa.accuracy import frequencies
from ..qa.binning import ColumnBins, encode, fit_bins
from ..qa.columns import Column, infer_columns
from .frame import gaps, sort_children
from .layout import CONTEXT_KINDS, MAX_CONTEXT_CATEGORIES, TableLayout, _order_values, generation_order_from


def _acc(train: pd.DataFrame, other: pd.DataFrame, groups: list[tuple[str, ...]]) -> float | None:
    """Mean 1 - TVD over column tuples, bins learned on ``train``."""
    if not groups or len(train) == 0 or len(other) == 0:
        return None
    cols = sorted({c for g in groups for c in g})
    columns = [c for c in infer_columns(train[cols])]
    bins = fit_bins(train[cols], columns)
    tc, oc = encode(train[cols], bins), encode(other[cols], bins)
    sizes = [b.size for b in bins]
    idx = {c: i for i, c in enumerate(cols)}
    vals = []
    for g in groups:
        t = tuple(idx[c] for c in g)
        vals.append(1.0 - 0.5 * float(np.abs(frequencies(tc, sizes, t) - frequencies(oc, sizes, t)).sum()))
    return float(np.mean(vals))


def _pair_acc(train_pairs: list[pd.DataFrame], other_pairs: list[pd.DataFrame]) -> float | None:
    """Mean accuracy of (now, next) pairs; both positions share the bins of the column."""
    vals = []
    for tp, op in zip(train_pairs, other_pairs):
        if len(tp) == 0 or len(op) == 0:
            continue
        col = infer_columns(tp[["now"]])[0]
        b = fit_bins(tp[["now"]], [col])[0]
        b2 = ColumnBins(Column("next", col.kind), b.edges, b.values, b.labels)
        t = np.c_[encode(tp[["now"]], [b]), encode(tp[["next"]], [b2])]
        o = np.c_[encode(op[["now"]], [b]), encode(op[["next"]], [b2])]
        sizes = [b.size, b.size]
        vals.append(1.0 - 0.5 * float(np.abs(frequencies(t, sizes, (0, 1)) - frequencies(o, sizes, (0, 1))).sum()))
    return float(np.mean(vals)) if vals else None


def _columns(lay: TableLayout, df: pd.DataFrame) -> list[str]:
    skip = {lay.primary_key, lay.parent_fk, *(r.column for r in lay.plain_refs)}
    out = []
    for c in lay.columns:
        if c in skip or lay.kinds.get(c) not in CONTEXT_KINDS or c not in df.columns:
            continue
        if lay.kinds[c] == "categorical" and df[c].nunique() > MAX_CONTEXT_CATEGORIES * 50:
            continue
        out.append(c)
    return out


class _Child:
    """Derived frames of one child table, for one set of tables (train, holdout or synthetic)."""

    def __init__(self, lay: TableLayout, parent: TableLayout, tables: dict[str, pd.DataFrame], cols: list[str],
                 pcols: list[str]):
        df = sort_children(lay, tables[lay.name])
        pdf = tables[parent.name]
        self.lengths = pd.DataFrame({"n": subject_lengths(lay, parent, tables)})
        self.rows = df[cols].reset_index(drop=True)
        joined = pdf.set_index(parent.primary_key).reindex(df[lay.parent_fk].to_numpy())[pcols].reset_index(drop=True)
        joined.columns = [f"parent.{c}" for c in pcols]
        self.joined = pd.concat([self.rows, joined], axis=1)
        owner = df[lay.parent_fk].to_numpy()
        same = np.r_[owner[1:] == owner[:-1], False]  # row i and i+1 belong to one subject
        self.pairs = {c: pd.DataFrame({"now": df[c].to_numpy()[:-1][same[:-1]] if len(df) else [],
                                       "next": df[c].to_numpy()[1:][same[:-1]] if len(df) else []}) for c in cols}
        cats = [c for c in cols if lay.kinds[c] in ("categorical", "boolean")]
        g = df.groupby(lay.parent_fk, sort=False)
        self.distinct = {c: pd.DataFrame({"k": g[c].nunique().to_numpy()}) for c in cats}
        self.gaps = None
        if lay.order_by:
            vals = _order_values(df[lay.order_by], lay.order_kind)
            d = gaps(vals, lay.order_kind)
            first = np.r_[True, ~same[:-1]] if len(df) else np.zeros(0, dtype=bool)
            self.gaps = pd.DataFrame({"gap": d[~first]})
            self.order_violations = int((d[~first] < 0).sum())


def _child_metrics(lay: TableLayout, parent: TableLayout, ref: _Child, other: _Child, cols: list[str],
                   pcols: list[str]) -> dict:
    pcols_j = [f"parent.{c}" for c in pcols]
    out = {
        "sequence_lengths": _acc(ref.lengths, other.lengths, [("n",)]),
        "univariate": _acc(ref.rows, other.rows, [(c,) for c in cols]),
        "bivariate": _acc(ref.rows, other.rows, list(itertools.combinations(cols, 2))),
        "parent_child": _acc(ref.joined, other.joined, [(c, p) for c in cols for p in pcols_j]),
        "coherence": _pair_acc([ref.pairs[c] for c in cols], [other.pairs[c] for c in cols]),
        "distinct_per_subject": _acc(pd.concat({c: d["k"] for c, d in ref.distinct.items()}, axis=1),
                                     pd.concat({c: d["k"] for c, d in other.distinct.items()}, axis=1),
                                     [(c,) for c in ref.distinct]) if ref.distinct else None,
        "time_gaps": _acc(ref.gaps, other.gaps, [("gap",)]) if ref.gaps is not None else None,
    }
    out["bivariate_by_pair"] = {f"{a}~{b}": _acc(ref.rows, other.rows, [(a, b)])
                                for a, b in itertools.combinations(cols, 2)}
    out["coherence_by_column"] = {c: _pair_acc([ref.pairs[c]], [other.pairs[c]]) for c in cols}
    if other.gaps is not None:
        out["order_violations"] = other.order_violations
    def r(v):
        if isinstance(v, dict):
            return {k: r(x) for k, x in v.items()}
        return round(v, 4) if isinstance(v, float) else v

    return r(out)


SERIES_EXAMPLES = 2  # series of each kind drawn in the report
EXAMPLE_STEPS = 400  # ... their last steps


def series_lags(lay: TableLayout) -> list[int]:
    """Lags (grid steps) the report shows: one step, the seasons, twice the shortest season."""
    seasons = [k for k in lay.calendar.lags if k > 1]
    return sorted({1, *seasons, *([2 * seasons[0]] if seasons else [])})


def series_metrics(lay: TableLayout, parent: TableLayout, tables: dict[str, dict[str, pd.DataFrame]]) -> dict:
    """The time-series figures of a calendar child for each set of ``tables``
    ("training", "synthetic", "holdout"): ACF, profile, accuracy against training."""
    from ..qa import timeseries as ts

    cal = lay.calendar
    by = "hour" if "hour" in cal.features else ("day_of_week" if "dow" in cal.features else "month")
    lags = series_lags(lay)
    train = tables["training"]
    pcols = [c for c in _columns(parent, train[parent.name]) if parent.kinds.get(c) in ("categorical", "boolean")]
    out: dict = {"frequency": cal.frequency, "step_seconds": cal.step, "lags": lags, "profile_by": by,
                 "measures": {}, "calendar": {}}
    for which, t in tables.items():
        if t.get(lay.name) is not None and len(t[lay.name]):
            out["calendar"][which] = {k: round(v, 4) for k, v in
                                      ts.calendar_checks(sort_children(lay, t[lay.name]), lay.parent_fk, lay.order_by,
                                                         cal.step).items()}
    for c in cal.columns:
        m: dict = {"acf": {}, "profile": {}, "examples": {}}
        ref_level = None
        for which, t in tables.items():
            df = t.get(lay.name)
            if df is None or not len(df):
                continue
            df = sort_children(lay, df)
            args = (df, lay.parent_fk, lay.order_by, c)
            m["acf"][which] = {str(k): v for k, v in ts.acf(*args, lags=tuple(lags), step=cal.step).items()}
            m["profile"][which] = ts.calendar_profile(*args, by=by)
            level = _subject_levels(lay, parent, t, c, pcols)
            if which == "training":
                ref_level = level
            else:
                m.setdefault("value_accuracy", {})[which] = round(ts.value_accuracy(train[lay.name][c], df[c]), 4)
                m.setdefault("level_accuracy", {})[which] = {
                    p: round(ts.static_level_accuracy(ref_level, level, p, "level"), 4) for p in pcols}
            series = ts.dense_series(*args, step=cal.step)
            m["examples"][which] = [[None if np.isnan(x) else round(float(x), 4) for x in v[-EXAMPLE_STEPS:]]
                                    for v in list(series.values())[:SERIES_EXAMPLES]]
        for which, prof in m["profile"].items():
            if which != "training" and m["profile"].get("training"):
                ref = m["profile"]["training"]
                m.setdefault("profile_max_diff", {})[which] = round(max(abs(prof.get(k, np.nan) - v) for k, v in ref.items()), 4)
        out["measures"][c] = m
    return out


def _subject_levels(lay: TableLayout, parent: TableLayout, t: dict[str, pd.DataFrame], c: str,
                    pcols: list[str]) -> pd.DataFrame:
    """Each subject's mean of ``c`` beside its parent attributes."""
    level = pd.to_numeric(t[lay.name][c], errors="coerce").groupby(t[lay.name][lay.parent_fk].to_numpy()).mean()
    p = t[parent.name].set_index(parent.primary_key)[pcols]
    return p.assign(level=level.reindex(p.index).to_numpy()).dropna(subset=["level"])


def subject_lengths(lay: TableLayout, parent: TableLayout, tables: dict[str, pd.DataFrame]) -> np.ndarray:
    """Events of table ``lay`` per row of its parent (zeros included)."""
    pdf, df = tables[parent.name], tables[lay.name]
    return pdf[parent.primary_key].map(df[lay.parent_fk].value_counts()).fillna(0).astype("int64").to_numpy()


def integrity(layouts: dict[str, TableLayout], tables: dict[str, pd.DataFrame]) -> dict:
    """Counts per table: rows, duplicate primary keys, dangling and null foreign keys."""
    out = {}
    for name, lay in layouts.items():
        df = tables[name]
        d = {"rows": len(df)}
        if lay.primary_key:
            d["duplicate_keys"] = int(df[lay.primary_key].duplicated().sum())
        refs = ([(lay.parent_fk, lay.parent)] if lay.parent else []) + [(r.column, r.references) for r in lay.plain_refs]
        for col, target in refs:
            keys = tables[target][layouts[target].primary_key]
            v = df[col]
            d[f"{col}.dangling"] = int((v.notna() & ~v.isin(keys)).sum())
            d[f"{col}.null_share"] = round(float(v.isna().mean()), 4) if len(v) else 0.0
        out[name] = d
    return out


def relational_metrics(layouts: dict[str, TableLayout], train: dict[str, pd.DataFrame],
                       synthetic: dict[str, pd.DataFrame], holdout: dict[str, pd.DataFrame] | None = None) -> dict:
    """Every related-tables figure for ``synthetic`` (and ``holdout``) against ``train``."""
    result: dict = {"tables": {}, "integrity": integrity(layouts, synthetic)}
    for name in generation_order_from(layouts):
        lay = layouts[name]
        if lay.parent is None:
            continue
        parent = layouts[lay.parent]
        cols = _columns(lay, train[name])
        pcols = [c for c in _columns(parent, train[parent.name])]
        ref = _Child(lay, parent, train, cols, pcols)
        entry = {"synthetic": _child_metrics(lay, parent, ref, _Child(lay, parent, synthetic, cols, pcols), cols, pcols)}
        has_holdout = holdout is not None and len(holdout.get(name, [])) and len(holdout.get(parent.name, []))
        if has_holdout:
            entry["holdout"] = _child_metrics(lay, parent, ref, _Child(lay, parent, holdout, cols, pcols), cols, pcols)
        if lay.calendar is not None:
            sets = {"training": train, "synthetic": synthetic, **({"holdout": holdout} if has_holdout else {})}
            entry["series"] = series_metrics(lay, parent, sets)
        result["tables"][name] = entry
    # primary keys reused from the real data
    reused = {}
    for name, lay in layouts.items():
        if lay.primary_key and name in synthetic:
            real = pd.concat([train[name][lay.primary_key]] + ([holdout[name][lay.primary_key]] if holdout else []))
            reused[name] = int(synthetic[name][lay.primary_key].isin(real).sum())
    result["reused_real_keys"] = reused
    return result
