"""A table's model frame, built from its derived-column description.

``table_frame`` turns real rows into the frame a table's flat model trains on: its own
columns, then each ``DerivedColumn`` of its layout (``layout.derived_columns``), in order.
An event's place in its subject's sequence (``__pos``, ``prev{j}.*``) comes from one
function, ``sequence_columns``: training frames call it on whole histories, and
``EventWindow`` on each subject's latest events when a history is continued or events are
drawn one step at a time, so ``prev1.x`` means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .layout import (DAY, DerivedColumn, TableLayout, _order_values, first_offsets, generation_order_from,
                     order_units, sib_col)


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


def parent_columns(lay: TableLayout, parent_frame: pd.DataFrame | None, owner: np.ndarray) -> pd.DataFrame:
    """``parent.*`` of every row: the columns of its parent's model frame it is given
    (attributes, counts, carried constants, the grandparent's, earlier siblings'
    summaries). ``parent_frame`` is indexed by what ``owner`` holds (keys or row numbers)."""
    ds = lay.derived_of("parent", "sibling")
    src = [d.column if d.kind == "parent" else sib_col(d.table, d.column) for d in ds]
    out = (parent_frame if parent_frame is not None else pd.DataFrame()).reindex(columns=src).reindex(owner)
    out.columns = [d.name for d in ds]
    return out.reset_index(drop=True)


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
    for d in lay.derived_of("count", "reference_count", "carried"):
        f[d.name] = _from_table(d, lay, df, tables.get(d.table), layouts)
    if lay.parent is None:
        return f
    owner = df[lay.parent_fk].to_numpy()
    for d in lay.derived_of("gap"):
        f[d.name] = gap_values(lay, f[d.column], owner)
    given = parent_columns(lay, parent_frame, owner)
    given.index = f.index
    f = pd.concat([f, given, sequence_columns(lay, f, owner)], axis=1)
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
    subject's history."""

    def __init__(self, lay: TableLayout, rows: pd.DataFrame | None = None, owner: np.ndarray | None = None):
        self.lay = lay
        self.columns = list(dict.fromkeys(lay.lagged + ([lay.order_by] if lay.order_by else [])))
        if rows is None:  # no events yet
            rows, owner = pd.DataFrame(columns=self.columns, dtype="float64"), np.zeros(0, dtype=np.int64)
        self._keep_latest(rows.reindex(columns=self.columns).reset_index(drop=True), np.asarray(owner))

    def _keep_latest(self, rows: pd.DataFrame, owner: np.ndarray) -> None:
        order = np.argsort(owner, kind="stable")  # subjects together, events in order
        rows, owner = rows.iloc[order].reset_index(drop=True), owner[order]
        back = pd.Series(np.zeros(len(owner))).groupby(owner, sort=False).cumcount(ascending=False).to_numpy()
        keep = back < self.lay.lags
        self.rows, self.owner = rows[keep].reset_index(drop=True), owner[keep]

    def context(self, subjects: np.ndarray, pos: np.ndarray) -> pd.DataFrame:
        """``__pos`` and ``prev{j}.*`` of the next event of each of ``subjects`` (row order),
        whose position is ``pos``."""
        n, m = len(subjects), len(self.rows)
        rows = pd.concat([self.rows, self.rows.iloc[:0].reindex(range(n))], ignore_index=True)
        owner = np.concatenate([self.owner, subjects])
        before = pd.Series(self.owner).value_counts().reindex(subjects, fill_value=0).to_numpy()
        start = np.concatenate([np.zeros(m, dtype=np.int64), pos - before])
        order = np.argsort(owner, kind="stable")  # each next event right after its subject's latest
        seq = sequence_columns(self.lay, rows.iloc[order].reset_index(drop=True), owner[order], start[order])
        where = np.empty_like(order)
        where[order] = np.arange(len(order))
        return seq.iloc[where[m:]].reset_index(drop=True)

    def previous_order(self, subjects: np.ndarray) -> pd.Series:
        """Each subject's latest order value (null before its first event)."""
        last = np.r_[self.owner[1:] != self.owner[:-1], True] if len(self.owner) else np.zeros(0, dtype=bool)
        latest = pd.Series(self.rows[self.lay.order_by].to_numpy()[last], index=self.owner[last])
        return _order_values(latest.reindex(subjects).reset_index(drop=True), self.lay.order_kind)

    def append(self, drawn: pd.DataFrame, subjects: np.ndarray) -> None:
        """Add one event of each of ``subjects`` (``drawn``, in that order); subjects left
        out have no more events and leave the window."""
        new = drawn.reindex(columns=self.columns).reset_index(drop=True)
        kept = np.isin(self.owner, subjects)
        if kept.any():
            rows = pd.concat([self.rows[kept], new], ignore_index=True)
            owner = np.concatenate([self.owner[kept], subjects])
        else:
            rows, owner = new, np.asarray(subjects)
        self._keep_latest(rows, owner)
