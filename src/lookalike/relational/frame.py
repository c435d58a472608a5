"""A table's model frame, built from its derived-column description.

``table_frame`` turns real rows into the frame a table's flat model trains on: its own
columns, then each ``DerivedColumn`` of its layout (``layout.derived_columns``), in order.
An event's place in its subject's sequence (``__pos``, ``prev{j}.*``) comes from one
function, ``sequence_columns``: training frames call it on whole histories, and
``EventWindow`` on each subject's latest events when a history is continued or events are
drawn one step at a time, so ``prev1.x`` means the same thing everywhere. A long regular
series' calendar columns (``__cal.*``, ``season{k}.*``, ``roll{w}.*``) follow the same
rule: ``series_columns`` on whole histories, ``EventWindow``'s ``SeriesBuffer`` step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .layout import (DAY, DerivedColumn, TableLayout, _order_values, first_offsets, generation_order_from,
                     order_units, sib_col)
from .series import SeriesBuffer, calendar_columns, level_col, roll_col, subject_level

SERIES_KINDS = ("calendar", "seasonal", "profile", "rolling", "deviation", "relative")


def sort_children(lay: TableLayout, df: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by parent, each subject's events in order (input order on ties)."""
    if lay.parent is None:
        return df
    keys = [lay.parent_fk]
    tmp = df.assign(__row=np.arange(len(df)))
    if lay.order_by:
        tmp["__order"] = _order_values(df[lay.order_by], lay.order_kind)
        keys.append("__order")
    keys.append("__row")
    return tmp.sort_values(keys, kind="stable", na_position="last").drop(
        columns=[c for c in ("__row", "__order") if c in tmp.columns]).reset_index(drop=True)


def gaps(values: pd.Series, kind: str) -> np.ndarray:
    """Difference to the previous value (days for dates), as floats."""
    if kind == "datetime":
        secs = values.astype("int64").to_numpy().astype("float64") / 1e9
        secs[values.isna().to_numpy()] = np.nan
        return np.diff(secs, prepend=np.nan) / DAY
    v = values.to_numpy(dtype="float64")
    return np.diff(v, prepend=np.nan)


def own_values(lay: TableLayout, df: pd.DataFrame) -> pd.DataFrame:
    """The table's own modelled columns; the order column as datetime64 or float."""
    out = pd.DataFrame({c: df[c] for c in lay.attrs}, index=df.index)
    if lay.order_by:
        out[lay.order_by] = _order_values(df[lay.order_by], lay.order_kind)
    return out


def _places(owner: np.ndarray) -> np.ndarray:
    """Each row's place among its subject's rows (0, 1, ...); null for rows without a subject."""
    return pd.Series(np.zeros(len(owner))).groupby(owner, sort=False).cumcount().to_numpy()


def gap_values(lay: TableLayout, order: pd.Series, owner: np.ndarray) -> np.ndarray:
    """``__gap``: the order value minus the previous event's of the same subject (null for
    a subject's first event). Rows in subject order."""
    g = gaps(order, lay.order_kind)
    g[_places(owner) == 0] = np.nan
    return g


def sequence_columns(lay: TableLayout, rows: pd.DataFrame, owner: np.ndarray,
                     start: np.ndarray | int = 0) -> pd.DataFrame:
    """``__pos`` and ``prev{j}.*`` of every row: its position in its subject's sequence and
    the values of the subject's j-th event before it (null when there is none).

    ``rows`` holds the lagged columns, each subject's events together and in order
    (``owner``: each row's subject); ``start`` is added to each row's place among its
    subject's rows here (0 for whole histories)."""
    k = _places(owner)
    out = {}
    for d in lay.derived_of("position", "lag"):
        out[d.name] = k + start if d.kind == "position" else rows[d.column].shift(d.lag).where(k >= d.lag)
    return pd.DataFrame(out, index=rows.index)


def series_columns(lay: TableLayout, rows: pd.DataFrame, owner: np.ndarray,
                   given: pd.DataFrame | None = None) -> pd.DataFrame:
    """The calendar, seasonal-lag and rolling-level columns of a long regular series
    (``series.py``): ``rows`` holds whole histories, each subject's events together and in
    order, with the order column's actual values; ``given``: their parent columns (the
    subjects' levels)."""
    secs = order_units(rows[lay.order_by], lay) * DAY
    return calendar_columns(lay.calendar, secs, rows, owner, lay.derived_of(*SERIES_KINDS), series_anchor(lay, given))


def series_anchor(lay: TableLayout, given: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Per measure, each row's subject level from its parent columns (``given``)."""
    out = {}
    for c in lay.calendar.relative if lay.calendar else []:
        col = lay.column("parent", column=level_col(lay.name, c))
        if given is not None and col in given.columns:
            out[c] = pd.to_numeric(given[col], errors="coerce").to_numpy(dtype="float64")
    return out


def _parent_sources(lay: TableLayout) -> dict[str, str]:
    """Each ``parent.*`` column of the table -> the parent model frame's column it copies."""
    return {d.name: d.column if d.kind == "parent" else sib_col(d.table, d.column)
            for d in lay.derived_of("parent", "sibling")}


def parent_columns(lay: TableLayout, parent_frame: pd.DataFrame | None, owner: np.ndarray) -> pd.DataFrame:
    """``parent.*`` of every row: the columns of its parent's model frame it is given
    (attributes, counts, carried constants, the grandparent's, earlier siblings'
    summaries). ``parent_frame`` is indexed by what ``owner`` holds (keys or row numbers)."""
    sources = _parent_sources(lay)
    out = (parent_frame if parent_frame is not None else pd.DataFrame()).reindex(columns=list(sources.values()))
    out = out.reindex(owner)
    out.columns = list(sources)
    return out.reset_index(drop=True)


def parent_values(lay: TableLayout, parent_frame: pd.DataFrame | None) -> dict[str, pd.Series]:
    """The ``parent.*`` columns' values once per parent row (``TableEncoder.fit``'s
    ``subject_values``): protection then counts subjects, not their events."""
    if parent_frame is None:
        return {}
    return {name: parent_frame[src].reset_index(drop=True) for name, src in _parent_sources(lay).items()
            if src in parent_frame.columns}


def sibling_summaries(layouts: dict[str, TableLayout], name: str, values: pd.DataFrame, owner: np.ndarray,
                      index: pd.Index) -> dict[str, pd.Series]:
    """The per-subject summaries of table ``name`` that its later siblings use as context:
    ``values`` holds its rows' actual values, ``owner`` each row's subject (a label of
    ``index``). Subjects without rows get null."""
    wanted = {(d.table, d.column, d.summary) for lay in layouts.values() for d in lay.derived_of("sibling")
              if d.table == name}
    out = {}
    for s, c, agg in sorted(wanted):
        if c not in values.columns:
            continue
        if agg == "mean":
            summary = pd.to_numeric(values[c], errors="coerce").groupby(owner).mean()
        else:
            t = pd.DataFrame({"o": owner, "v": values[c].to_numpy()}).dropna()
            t = t.groupby(["o", "v"], sort=False).size().reset_index(name="n")
            summary = t.sort_values(["o", "n"], ascending=[True, False], kind="stable").drop_duplicates("o")
            summary = summary.set_index("o")["v"]
        out[sib_col(s, c)] = summary.reindex(index)
    return out


def _from_table(d: DerivedColumn, lay: TableLayout, df: pd.DataFrame, rows: pd.DataFrame | None,
                layouts: dict[str, TableLayout]) -> np.ndarray:
    """A count, reference count or carried constant of each row of ``df``, from the rows of
    table ``d.table`` (null when they are not given: unknown, not zero)."""
    key = df[lay.primary_key]
    if rows is None or (d.kind == "reference_count" and d.column not in rows.columns):
        return np.full(len(df), np.nan)
    if d.kind == "count":
        return key.map(rows[layouts[d.table].parent_fk].value_counts()).fillna(0).astype("int64").to_numpy()
    if d.kind == "level":
        child = layouts[d.table]
        how = child.calendar.relative.get(d.column, "diff") if child.calendar else "diff"
        return key.map(subject_level(how, rows[d.column], rows[child.parent_fk].to_numpy())).to_numpy(dtype="float64")
    if d.kind == "reference_count":
        return key.map(rows[d.column].value_counts()).fillna(0).astype("int64").to_numpy()
    first = rows.groupby(layouts[d.table].parent_fk, sort=False)[d.column].first()  # carried
    return key.map(first).to_numpy()


def _first_order(lay: TableLayout, f: pd.DataFrame, owner: np.ndarray) -> pd.Series | np.ndarray:
    """The order column as the model learns it: the first event's value (or its offset
    from the parent's date), null for later events."""
    first = _places(owner) == 0
    if lay.anchor:
        off = first_offsets(lay, f[lay.order_by], f[lay.column("parent", column=lay.anchor)])
        return np.where(first, off, np.nan)
    return f[lay.order_by].where(first)


def table_frame(lay: TableLayout, df: pd.DataFrame, tables: dict[str, pd.DataFrame],
                layouts: dict[str, TableLayout], parent_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model frame of real rows ``df`` (a child's in subject order, ``sort_children``):
    own columns, then every derived column of the layout in its order. ``tables``: other
    tables' rows, for counts, carried constants and reference counts; ``parent_frame``: a
    child's parent's model frame, indexed by key."""
    f = own_values(lay, df)
    for d in lay.derived_of("count", "level", "reference_count", "carried"):
        f[d.name] = _from_table(d, lay, df, tables.get(d.table), layouts)
    if lay.parent is None:
        return f
    owner = df[lay.parent_fk].to_numpy()
    for d in lay.derived_of("gap"):
        f[d.name] = gap_values(lay, f[d.column], owner)
    given = parent_columns(lay, parent_frame, owner)
    given.index = f.index
    parts = [f, given, sequence_columns(lay, f, owner)]
    if lay.calendar:
        parts.append(series_columns(lay, f, owner, given).set_axis(f.index))
    f = pd.concat(parts, axis=1)
    if lay.calendar:  # a measure learned against its level: drawn as itself only where there is none yet
        for c in lay.calendar.relative:
            level = f.get(roll_col(lay.calendar.window, c))
            if level is not None:
                f[c] = f[c].where(level.isna())
    for d in lay.derived_of("order"):  # last: the lags hold the actual values
        f[d.name] = _first_order(lay, f, owner)
    return f


def training_frames(layouts: dict[str, TableLayout], frames: dict[str, pd.DataFrame]
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The model frame of every table (own columns + context), built from real tables;
    and, for tables with children, the full frames indexed by primary key."""
    keyed: dict[str, pd.DataFrame] = {}  # frames (with context) indexed by primary key, for children
    out: dict[str, pd.DataFrame] = {}
    for name in generation_order_from(layouts):
        lay = layouts[name]
        df = sort_children(lay, frames[name])
        frames = {**frames, name: df}
        f = table_frame(lay, df, frames, layouts, keyed.get(lay.parent))
        if lay.parent and lay.parent in keyed:  # summaries for the siblings still to come
            actual = df.assign(**{lay.order_by: order_units(df[lay.order_by], lay)}) if lay.order_by else df
            for col, summary in sibling_summaries(layouts, name, actual, df[lay.parent_fk].to_numpy(),
                                                  keyed[lay.parent].index).items():
                keyed[lay.parent][col] = summary.to_numpy()
        if lay.children and lay.primary_key:
            keyed[name] = f.set_index(df[lay.primary_key].to_numpy())
        out[name] = f[lay.model_columns + lay.context]
    return out, keyed


class EventWindow:
    """Each subject's latest events (at most ``lags`` of them) as its next event sees them:
    the lagged columns and the order column's actual value; ``owner`` holds each row's
    subject (a row number of the parent frame). ``context`` gives the next event's
    ``__pos`` and ``prev{j}.*``: what ``sequence_columns`` gives a row appended to each
    subject's history. Kept as one ring of ``lags`` slots per subject and column, so a
    step costs the same at event 10 and at event 10,000."""

    def __init__(self, lay: TableLayout, rows: pd.DataFrame | None = None, owner: np.ndarray | None = None):
        self.lay = lay
        self.columns = list(dict.fromkeys(lay.lagged + ([lay.order_by] if lay.order_by else [])))
        self.L = max(lay.lags, 1)
        self.count = np.zeros(0, dtype=np.int64)  # events seen per subject
        self.ring: dict[str, np.ndarray] = {}  # column -> [subjects, L]; event i sits in slot i % L
        if rows is None:  # no events yet
            rows, owner = pd.DataFrame(columns=self.columns, dtype="float64"), np.zeros(0, dtype=np.int64)
        owner = np.asarray(owner, dtype=np.int64)
        rows = rows.reset_index(drop=True)
        self.series = SeriesBuffer(lay.calendar) if lay.calendar else None
        if self.series is not None:  # a long series: its last steps on the grid
            self.series.push(owner, self._secs(rows), rows)
        order = np.argsort(owner, kind="stable")  # subjects together, events in order
        self._push(rows.iloc[order].reset_index(drop=True), owner[order])

    def _secs(self, rows: pd.DataFrame) -> np.ndarray:
        v = rows[self.lay.order_by]
        if pd.api.types.is_datetime64_any_dtype(v.dtype) and getattr(v.dtype, "tz", None) is None:
            ns = v.to_numpy(dtype="datetime64[ns]")
            return np.where(np.isnat(ns), np.nan, ns.astype("int64") / 1e9)
        return order_units(v, self.lay) * DAY

    def _grow(self, n: int) -> None:
        m = len(self.count)
        if n > m:
            self.count = np.r_[self.count, np.zeros(n - m, dtype=np.int64)]
            for c, arr in self.ring.items():
                self.ring[c] = np.concatenate([arr, np.full((n - m, self.L), _null_of(arr.dtype), dtype=arr.dtype)])

    def _store(self, c: str, values: pd.Series) -> np.ndarray:
        """``values`` in the column's ring dtype (widened to object when they do not fit)."""
        v = _storable(values)
        arr = self.ring.get(c)
        if arr is None:
            self.ring[c] = np.full((len(self.count), self.L), _null_of(v.dtype), dtype=v.dtype)
        elif arr.dtype != v.dtype and not (arr.dtype.kind == v.dtype.kind == "f"):
            if arr.dtype != object:
                self.ring[c] = _as_object(arr)
            v = _as_object(v)
        return v

    def _push(self, rows: pd.DataFrame, owner: np.ndarray) -> None:
        """Events in order (several per subject allowed, each subject's together)."""
        if not len(owner):
            return
        self._grow(int(owner.max()) + 1)
        one_each = bool(np.all(owner[1:] > owner[:-1]))  # a step: one event per subject, in subject order
        place = np.zeros(len(owner), dtype=np.int64) if one_each else _places(owner)  # 0, 1, ... within this push
        before = self.count[owner]
        slot = np.mod(before + place, self.L)
        for c in self.columns:
            v = self._store(c, rows[c] if c in rows.columns else pd.Series(np.full(len(rows), np.nan)))
            self.ring[c][owner, slot] = v
        np.add.at(self.count, owner, 1)

    def context(self, subjects: np.ndarray, pos: np.ndarray, frame: bool = True) -> pd.DataFrame | dict:
        """``__pos`` and ``prev{j}.*`` of the next event of each of ``subjects`` (row order),
        whose position is ``pos``; ``frame=False``: as a dict of arrays (a series' step)."""
        subjects = np.asarray(subjects, dtype=np.int64)
        self._grow(int(subjects.max()) + 1 if len(subjects) else 0)
        n = self.count[subjects]
        out: dict[str, Any] = {}
        for d in self.lay.derived_of("position", "lag"):
            if d.kind == "position":
                out[d.name] = np.asarray(pos)
                continue
            arr = self.ring.get(d.column)
            if arr is None:
                out[d.name] = np.full(len(subjects), np.nan)
                continue
            v = arr[subjects, np.mod(n - d.lag, self.L)]
            has = n >= d.lag
            if not has.all():
                v = v.copy() if v.dtype == object else v.astype(object if v.dtype.kind not in "fM" else v.dtype)
                v[~has] = _null_of(v.dtype)
            out[d.name] = v
        if self.series is not None:
            out.update(self.series.context(subjects, self.lay.derived_of(*SERIES_KINDS)))
        return pd.DataFrame(out) if frame else out

    def previous_order(self, subjects: np.ndarray) -> pd.Series:
        """Each subject's latest order value (null before its first event)."""
        subjects = np.asarray(subjects, dtype=np.int64)
        self._grow(int(subjects.max()) + 1 if len(subjects) else 0)
        n = self.count[subjects]
        arr = self.ring.get(self.lay.order_by)
        if arr is None:
            latest = pd.Series(np.full(len(subjects), np.nan))
        else:
            v = arr[subjects, np.mod(n - 1, self.L)]
            v = v.astype(object) if v.dtype.kind not in "fMO" else v.copy()
            v[n < 1] = _null_of(v.dtype)
            latest = pd.Series(v)
        return _order_values(latest, self.lay.order_kind)

    def append(self, drawn: pd.DataFrame, subjects: np.ndarray) -> None:
        """Add one event of each of ``subjects`` (``drawn``, in that order)."""
        new = drawn.reset_index(drop=True)
        subjects = np.asarray(subjects, dtype=np.int64)
        if self.series is not None:
            self.series.push(subjects, self._secs(new), new)
        self._push(new, subjects)


def _storable(values: pd.Series) -> np.ndarray:
    """A column's values as a ring holds them: floats, datetime64[ns], or objects."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return _as_object(values.to_numpy(dtype=object))


def _as_object(v: np.ndarray) -> np.ndarray:
    out = np.asarray(v).astype(object)
    out[pd.isna(out)] = None
    return out


def _null_of(dtype: np.dtype) -> Any:
    return np.datetime64("NaT") if dtype.kind == "M" else (np.nan if dtype.kind == "f" else None)
