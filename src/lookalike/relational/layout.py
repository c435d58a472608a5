"""How each table of a schema becomes one flat table for the flat engine.

Every table gets one flat model over its *model frame*:

- its own columns (not the keys: those are regenerated), with the order column
  (``order_by``) kept as an absolute value for a subject's first event only and as the
  gap to the previous event (``__gap``) for the others, so dates come out in order;
- one count per context child (``__n.<child>``: how many events the row owns) and the
  child's columns that are constant within each subject (``<child>.<col>``), which are
  then carried, not re-drawn per event;
- for a child, *context* columns, always given at generation and never learned: its
  parent's (and grandparent's) attributes and counts (``parent.*``), its position in the
  sequence (``__pos``) and the previous events' values (``prev1.*``, ``prev2.*``). The
  window of lags is what lets sequences of any length be generated without holding them.

``build_layouts`` decides all of it once; a ``TableLayout`` is read-only afterwards, and
``derived_columns`` is the one description of its derived columns (``frame.py`` builds
the model frame from that list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..encoding.keys import KeyEncoder
from ..schema import infer_schema, to_datetime
from .series import (CATEGORICAL_FEATURES, Calendar, detect_calendar, dev_col, feature_col, level_col, profile_col,
                     rel_col, roll_col, season_col)
from .spec import TableSpec, dependency_order, generation_order

POS = "__pos"
GAP = "__gap"
PARENT = "parent."
SIBLING = "__s."
CONTEXT_KINDS = ("numeric", "categorical", "datetime", "boolean")
MAX_CONTEXT_CATEGORIES = 200  # wider categoricals (names, free text) do not condition children
MIN_GROUPS_FOR_CONSTANT = 20  # a column is "constant within subject" only with this much evidence
ANCHOR_MIN_SHARE = 0.5  # a parent date anchors first events only when most subjects have it
ANCHOR_MAX_SPREAD = 0.5  # ... and the offset varies at most half as much as the first date itself
DAY = 86_400.0
# where null parent dates are drawn from: inner quantiles, so the file never holds the
# exact earliest or latest real date
ANCHOR_QUANTILES = np.linspace(0.025, 0.975, 21)


def count_col(child: str) -> str:
    return f"__n.{child}"


def ref_col(table: str, column: str) -> str:
    """How many rows of ``table`` reference this row through ``column`` (a plain reference)."""
    return f"__r.{table}.{column}"


def sib_col(sibling: str, col: str) -> str:
    """A per-subject summary of an earlier sibling table's column (batting sees fielding)."""
    return f"{SIBLING}{sibling}.{col}"


def lag_col(j: int, col: str) -> str:
    return f"prev{j}.{col}"


@dataclass(frozen=True)
class PlainRef:
    column: str
    references: str
    null_share: float
    unique: bool


@dataclass(frozen=True)
class DerivedColumn:
    """One column of a table's model frame that is not an input column as it stands: what
    it is, where it comes from, and how generation turns it back into output. ``frame.py``
    builds the model frame from these, so the description is the code's own."""

    name: str  # its name in the model frame
    kind: str  # count | level | reference_count | carried | gap | parent | sibling | position | lag | calendar
    #            | seasonal | profile | rolling | deviation | relative | order
    source: str  # where its values come from, in the user's terms
    inverse: str  # what generation does with it
    context: bool  # always given at generation (context), or drawn by the table's model
    table: str | None = None  # the table its values come from
    column: str | None = None  # ... and that table's column (a parent's: its model-frame column)
    lag: int = 0  # lag: how many events back; seasonal: grid steps back (profile: a cycle's); rolling: the window
    summary: str | None = None  # sibling: "mean" or "mode" per subject


@dataclass(frozen=True)
class TableLayout:
    """Everything needed to rebuild one table from its flat model's output (JSON-able).
    Built once by ``build_layouts`` (or read from a model file) and read-only afterwards."""

    name: str
    columns: list[str]  # the input's columns, in order
    dtypes: dict[str, str]
    kinds: dict[str, str]  # inferred kind of every input column
    rows: int  # rows in the original input
    primary_key: str | None = None
    key: dict | None = None  # the primary key's KeyEncoder state: new keys in its format, never a real one
    key_is_int: bool = True  # key_is_int / key_start: how model files without ``key`` number keys
    key_start: int = 1
    parent: str | None = None
    parent_fk: str | None = None
    plain_refs: list[PlainRef] = field(default_factory=list)
    order_by: str | None = None
    order_kind: str | None = None  # "datetime" | "numeric"
    order_has_null: bool = False
    date_only: bool = True
    attrs: list[str] = field(default_factory=list)  # own columns modelled (order column included)
    children: list[str] = field(default_factory=list)
    carried: dict[str, list[str]] = field(default_factory=dict)  # child -> its columns constant per subject
    lagged: list[str] = field(default_factory=list)  # model columns whose previous values are context
    lags: int = 1
    nonnull: list[str] = field(default_factory=list)  # input columns without nulls
    parent_context: list[str] = field(default_factory=list)  # parent model-frame columns used as context
    anchor: str | None = None  # parent date column the first event's order value is an offset from
    anchor_fallback: float = 0.0  # anchor (order units) of subjects whose parent date is null
    anchor_offset: float | None = None  # typical first-event offset: the training value where the date is null
    anchor_quantiles: list[float] = field(default_factory=list)  # 21 quantiles of the anchor, for null dates
    order_integer: bool = False  # order column holds whole numbers (years, counters)
    referenced_by: list[list[str]] = field(default_factory=list)  # [table, column] of plain references to it
    sibling_context: list[list[str]] = field(default_factory=list)  # [sibling, column, "mean"|"mode"] seen as context
    calendar: Calendar | None = None  # a long regular series: its grid and calendar context (``series.py``)
    levels: list[list[str]] = field(default_factory=list)  # [child, measure]: each subject's level of a series

    def to_json(self) -> dict:
        # ``context`` is derived, written for readers of the file that stored it
        return {**asdict(self), "context": self.context}

    @classmethod
    def from_json(cls, d: dict) -> TableLayout:
        d = {k: v for k, v in d.items() if k != "context"}
        d["plain_refs"] = [PlainRef(**r) for r in d.get("plain_refs", [])]
        if d.get("calendar") is not None:
            d["calendar"] = Calendar(**d["calendar"])
        return cls(**d)

    @cached_property
    def derived(self) -> tuple[DerivedColumn, ...]:
        """The model frame's derived columns (``derived_columns``), in the order they are built."""
        return tuple(derived_columns(self))

    def derived_of(self, *kinds: str) -> list[DerivedColumn]:
        return [d for d in self.derived if d.kind in kinds]

    @property
    def context(self) -> list[str]:
        """Context columns of the model frame: given at generation, never drawn."""
        return [d.name for d in self.derived if d.context]

    @property
    def counts(self) -> list[str]:
        return [d.name for d in self.derived_of("count")]

    @property
    def carried_cols(self) -> list[str]:
        return [d.name for d in self.derived_of("carried")]

    @property
    def ref_counts(self) -> list[str]:
        """Per row, how often each plain reference points at it: learned, then used as the
        weight of the row when references are filled (popular districts stay popular)."""
        return [d.name for d in self.derived_of("reference_count")]

    @property
    def model_columns(self) -> list[str]:
        """Columns the table's own model learns (not the context). Counts of events come
        first: the first column's distribution is learned as a plain marginal, the most
        accurate place for the number of events every subject gets."""
        gap = [d.name for d in self.derived_of("gap")]
        rel = [d.name for d in self.derived_of("relative")]
        levels = [d.name for d in self.derived_of("level")]
        return self.counts + self.attrs + levels + gap + rel + self.carried_cols + self.ref_counts

    def column(self, kind: str, table: str | None = None, column: str | None = None) -> str | None:
        """The model-frame name of the derived column of ``kind`` from ``table``'s ``column``."""
        return next((d.name for d in self.derived if d.kind == kind and (table is None or d.table == table)
                     and (column is None or d.column == column)), None)


def derived_columns(lay: TableLayout) -> list[DerivedColumn]:
    """The model frame of ``lay`` beyond its own input columns, built from the layout alone
    (the one place that spells out the derived-column names), in build order: a column
    reads input rows, the parent's frame, and only the columns listed before it."""
    out = [DerivedColumn(count_col(c), "count", f"number of '{c}' rows per row of '{lay.name}'",
                         f"how many '{c}' events are drawn for the row", False, c) for c in lay.children]
    out += [DerivedColumn(level_col(child, c), "level", f"the subject's level of '{child}.{c}' (mean; geometric for "
                          "a measure learned as a ratio)", f"where the '{child}' series starts and what its level "
                          "returns to", False, child, c) for child, c in lay.levels]
    out += [DerivedColumn(ref_col(t, c), "reference_count", f"rows of '{t}' whose '{c}' points at the row",
                          f"weight of the row when '{t}.{c}' is filled", False, t, c) for t, c in lay.referenced_by]
    out += [DerivedColumn(f"{child}.{c}", "carried", f"'{child}.{c}', constant within each subject",
                          f"copied to every '{child}' row of the subject", False, child, c)
            for child, cols in lay.carried.items() for c in cols]
    if lay.parent and lay.order_by:
        out.append(DerivedColumn(GAP, "gap", f"'{lay.order_by}' minus the previous event's",
                                 f"'{lay.order_by}' = previous value + gap (events in order)", False,
                                 lay.name, lay.order_by))
    if lay.parent:
        out += [DerivedColumn(PARENT + c, "parent", f"'{lay.parent}' row's '{c}'", "given, not output", True,
                              lay.parent, c) for c in lay.parent_context if not c.startswith(SIBLING)]
        out += [DerivedColumn(PARENT + sib_col(sib, c), "sibling", f"the subject's {how} of '{sib}.{c}'",
                              "given, not output", True, sib, c, summary=how) for sib, c, how in lay.sibling_context]
        out.append(DerivedColumn(POS, "position", "the event's position in its subject's sequence (0, 1, ...)",
                                 "given, not output", True, lay.name))
        out += [DerivedColumn(lag_col(j, c), "lag", f"'{c}' of the event {j} before", "given, not output", True,
                              lay.name, c, lag=j) for j in range(1, lay.lags + 1) for c in lay.lagged]
    if lay.parent and lay.calendar:
        cal = lay.calendar
        unit = f"{cal.frequency} step" if cal.frequency != "regular" else f"step of {cal.step:g} s"
        expected = f"the expected date (the previous event's '{lay.order_by}' plus one {unit})"
        out += [DerivedColumn(feature_col(f), "calendar", f"{CALENDAR_NAMES[f]} of {expected}", "given, not output",
                              True, lay.name, f) for f in cal.features]
        out += [DerivedColumn(season_col(k, c), "seasonal", f"'{c}' {k} {unit}s before {expected}; null when missing",
                              "given, not output", True, lay.name, c, lag=k) for k in cal.lags for c in cal.columns]
        out += [DerivedColumn(profile_col(cal.profile, c), "profile", f"mean '{c}' {cal.profile}, {2 * cal.profile}, "
                              f"... {cal.cycles * cal.profile} {unit}s before {expected}; null when all are missing",
                              "given, not output", True, lay.name, c, lag=cal.profile)
                for c in cal.columns] if cal.profile else []
        out += [DerivedColumn(roll_col(cal.window, c), "rolling", f"mean '{c}' of the {cal.window} {unit}s before "
                              f"{expected}", "given, not output", True, lay.name, c, lag=cal.window)
                for c in cal.columns] if cal.window else []
        out += [DerivedColumn(dev_col(cal.window, c), "deviation", f"the rolling level of '{c}' against the subject's "
                              "level (the parent's)", "given, not output", True, lay.name, c, lag=cal.window)
                for c in cal.relative if level_col(lay.name, c) in lay.parent_context] if cal.window else []
        out += [DerivedColumn(rel_col(c), "relative", f"'{c}' against its rolling level ({how}: "
                              f"{'log(value / level)' if how == 'log' else 'value - level'}); "
                              f"'{c}' itself is kept only where there is no level yet (a first step)",
                              f"'{c}' = the level {'x exp(drawn)' if how == 'log' else '+ drawn'}", False,
                              lay.name, c) for c, how in cal.relative.items()] if cal.window else []
    if lay.parent and lay.order_by:  # after the lags: they hold the order column's actual values
        first = (f"'{lay.order_by}' of the first event minus the '{lay.parent}' row's '{lay.anchor}'"
                 if lay.anchor else f"'{lay.order_by}' of the first event")
        out.append(DerivedColumn(lay.order_by, "order", f"{first}; null for later events (their gap holds it)",
                                 f"first event: the value drawn{' plus the date' if lay.anchor else ''}; "
                                 "later events: previous value + gap", False, lay.name, lay.order_by))
    return out


CALENDAR_NAMES = {"hour": "hour of day", "dow": "day of week", "doy": "day of year",
                  "t": "steps since the subject's first event"}


def _order_values(s: pd.Series, kind: str) -> pd.Series:
    """Order column as datetime64 (dates) or float (numbers)."""
    if kind == "datetime":
        return to_datetime(s).astype("datetime64[ns]")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def build_layouts(specs: list[TableSpec], frames: dict[str, pd.DataFrame], lags: int = 1,
                  seed: int | None = None, key_frames: dict[str, pd.DataFrame] | None = None) -> dict[str, TableLayout]:
    """Decide each table's model frame from ``frames`` (the training subjects' rows), once:
    the layouts returned are finished and read-only. New primary keys avoid every key of
    ``key_frames`` (all real rows; default ``frames``)."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 11])
    # each table on its own (specs' order: the key formats share one random stream)
    own = {s.name: _own_facts(s, frames[s.name], (key_frames or frames)[s.name], lags, rng) for s in specs}
    # how tables hang together: children, the constants they hand their parents, references
    children: dict[str, list[str]] = {s.name: [] for s in specs}
    carried: dict[str, dict[str, list[str]]] = {s.name: {} for s in specs}
    referenced_by: dict[str, list[list[str]]] = {s.name: [] for s in specs}
    keyed = {s.name for s in specs if s.primary_key is not None}
    for s in specs:
        facts = own[s.name]
        if facts["parent"] is not None:
            children[facts["parent"]].append(s.name)
            const = _constant_per_subject(facts, frames[s.name])
            if const:
                carried[facts["parent"]][s.name] = const
                facts["attrs"] = [c for c in facts["attrs"] if c not in const]
        for fk in s.plain_keys:
            if fk.references in keyed:
                referenced_by[fk.references].append([s.name, fk.column])
    # parents first: a child's context reads its parent's finished layout and its earlier siblings'
    layouts: dict[str, TableLayout] = {}
    for name in generation_order(specs):
        lay = TableLayout(**own[name], children=children[name], carried=carried[name],
                          referenced_by=referenced_by[name])
        if lay.parent is not None:
            lay = replace(lay, **_context(lay, layouts, frames))
            if lay.order_by:
                lay = replace(lay, **_pick_anchor(lay, layouts[lay.parent], frames[name], frames[lay.parent]))
            if lay.order_kind == "datetime":
                lay = replace(lay, calendar=_detect_calendar(lay, frames[name]))
            if lay.calendar is not None and lay.calendar.relative:  # each subject's level: drawn by its parent
                parent = layouts[lay.parent]
                layouts[lay.parent] = replace(parent, levels=parent.levels + [[name, c] for c in lay.calendar.relative])
                lay = replace(lay, parent_context=lay.parent_context + [level_col(name, c) for c in lay.calendar.relative])
        layouts[name] = lay
    return {s.name: layouts[s.name] for s in specs}


def _own_facts(s: TableSpec, df: pd.DataFrame, key_rows: pd.DataFrame, lags: int,
               rng: np.random.Generator) -> dict[str, Any]:
    """A table's layout fields that depend on it alone: kinds, keys, order column, attributes."""
    ctx = s.context_key
    keys = ({s.primary_key} | {fk.column for fk in s.foreign_keys or []}) - {None}
    rest = df.drop(columns=[c for c in keys if c in df.columns])
    schema = infer_schema(rest, {k: v for k, v in s.types.items() if k not in keys}, name=s.name)
    kinds = {c: "key" for c in keys} | {c.name: c.kind for c in schema.columns}
    facts: dict[str, Any] = dict(name=s.name, columns=list(df.columns), kinds=kinds, rows=len(df),
                                 dtypes={c: str(df[c].dtype) for c in df.columns}, primary_key=s.primary_key,
                                 lags=lags, nonnull=[c for c in df.columns if bool(df[c].notna().all())])
    if s.primary_key:
        pk = key_rows[s.primary_key]
        facts["key_is_int"] = bool(pd.api.types.is_integer_dtype(pk))
        facts["key"] = KeyEncoder(s.primary_key, str(pk.dtype)).fit(pk, rng, protect=False).state()
    if ctx:
        facts["parent"], facts["parent_fk"] = ctx.references, ctx.column
    else:
        facts["parent"] = None
    facts["plain_refs"] = [PlainRef(fk.column, fk.references, float(df[fk.column].isna().mean()),
                                    bool(df[fk.column].dropna().is_unique)) for fk in s.plain_keys]
    order = s.order_by
    if order is None and ctx is not None:
        order = next((c for c in df.columns if kinds[c] == "datetime" and c not in keys), None)
    if order is not None and ctx is not None:
        facts["order_by"] = order
        facts["order_kind"] = kind = "datetime" if kinds[order] == "datetime" else "numeric"
        vals = _order_values(df[order], kind)
        facts["order_has_null"] = bool(vals.isna().any())
        if kind == "numeric":
            nn = vals.dropna().to_numpy()
            facts["order_integer"] = bool(len(nn) and np.all(np.mod(nn, 1) == 0))
        else:
            secs = vals.dropna().astype("int64").to_numpy() / 1e9
            facts["date_only"] = bool(np.all(np.mod(secs, DAY) == 0))
    facts["attrs"] = [c for c in df.columns if c not in keys and kinds[c] != "exclude"]
    return facts


def _detect_calendar(lay: TableLayout, df: pd.DataFrame) -> Calendar | None:
    """The child's calendar grid when its dates form long regular series (``series.py``)."""
    rows = df.assign(__o=order_units(df[lay.order_by], lay) * DAY).sort_values([lay.parent_fk, "__o"], kind="stable")
    measures = [c for c in lay.attrs if lay.kinds[c] == "numeric" and c != lay.order_by]
    return detect_calendar(rows["__o"].to_numpy(), rows[lay.parent_fk].to_numpy(), measures, rows[measures])


def _constant_per_subject(facts: dict[str, Any], df: pd.DataFrame) -> list[str]:
    """A child's columns that never change within a subject (given enough subjects with
    two or more rows to tell): its parent carries them instead."""
    fk = facts["parent_fk"]
    sizes = df.groupby(fk, sort=False).size()
    multi = sizes[sizes >= 2].index
    if len(multi) < MIN_GROUPS_FOR_CONSTANT:
        return []
    gs = df[df[fk].isin(multi)].groupby(fk, sort=False)
    return [c for c in facts["attrs"] if c != facts.get("order_by") and facts["kinds"][c] in CONTEXT_KINDS
            and bool((gs[c].nunique(dropna=False) <= 1).all())]


def _context(lay: TableLayout, layouts: dict[str, TableLayout], frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """A child's context fields: the parent's columns it sees (and the grandparent's), the
    earlier siblings' per-subject summaries, and its own columns whose previous values it sees."""
    parent = layouts[lay.parent]
    pcols = [c for c in parent.attrs if _usable(parent, c, frames[parent.name])]
    pcols += parent.counts + parent.carried_cols + parent.ref_counts
    if parent.parent is not None:  # grandparent attributes the parent already sees
        pcols += [c for c in parent.context if c.startswith(PARENT) and not c.startswith(PARENT + PARENT)]
    # siblings generated before this table, summarised per subject (its mean or most
    # frequent value): the subject's batting rows are drawn knowing its fielding rows
    sibling_context = [[sib, c, "mean" if layouts[sib].kinds[c] == "numeric" else "mode"]
                       for sib in parent.children if sib in layouts
                       for c in layouts[sib].lagged
                       if c != GAP and layouts[sib].kinds.get(c) in ("numeric", "categorical", "boolean")]
    pcols += [sib_col(sib, c) for sib, c, _ in sibling_context]
    lagged = [c for c in lay.attrs if lay.kinds[c] in CONTEXT_KINDS and _usable(lay, c, frames[lay.name])]
    if lay.order_by:
        lagged.append(GAP)
    return {"parent_context": pcols, "sibling_context": sibling_context, "lagged": lagged}


def anchor_units(values: pd.Series, lay: TableLayout) -> np.ndarray:
    """A parent date in the child's order units: days for dates, years for numbers
    (whole years when the order column holds whole numbers)."""
    dt = to_datetime(values.reset_index(drop=True)).astype("datetime64[ns]")
    if lay.order_kind == "datetime":
        out = dt.astype("int64").to_numpy().astype("float64") / 1e9 / DAY  # a fresh array
    elif lay.order_integer:
        out = dt.dt.year.to_numpy(dtype="float64")
    else:
        out = (dt.dt.year + (dt.dt.dayofyear - 1) / 365.25).to_numpy(dtype="float64")
    out = np.array(out, dtype="float64")  # writable
    out[dt.isna().to_numpy()] = np.nan
    return out


def order_units(values: pd.Series, lay: TableLayout) -> np.ndarray:
    """The order column as floats in its units (days since 1970 for dates)."""
    v = _order_values(values.reset_index(drop=True), lay.order_kind)
    if lay.order_kind == "datetime":
        out = np.array(v.astype("int64").to_numpy(), dtype="float64") / 1e9 / DAY
        out[v.isna().to_numpy()] = np.nan
        return out
    return np.array(v.to_numpy(dtype="float64"), dtype="float64")


def from_order_units(values: np.ndarray, lay: TableLayout) -> pd.Series:
    if lay.order_kind == "datetime":
        secs = np.round(np.asarray(values, dtype="float64") * DAY)
        return pd.Series(pd.to_datetime(secs, unit="s", errors="coerce")).astype("datetime64[ns]")
    v = pd.Series(np.asarray(values, dtype="float64"))
    return v.round() if lay.order_integer else v


def _pick_anchor(lay: TableLayout, parent: TableLayout, df: pd.DataFrame, pdf: pd.DataFrame) -> dict[str, Any]:
    """Tie the first event's order value to a parent date (birth date -> first season)
    when the offset is far tighter than the first value itself: the model then learns
    the offset, and the first event can never come out before its parent's date by chance.
    Returns the layout's anchor fields (none when no date qualifies)."""
    cands = [c for c in lay.parent_context if c in parent.attrs and parent.kinds.get(c) == "datetime"]
    if not cands or lay.order_has_null or not len(df):
        return {}
    first = df.assign(__o=order_units(df[lay.order_by], lay)).groupby(lay.parent_fk, sort=False)["__o"].min()
    spread0 = float(np.nanstd(first.to_numpy()))
    if not spread0 > 0:
        return {}
    keyed = pdf.set_index(parent.primary_key)
    best = None
    for c in cands:
        a = anchor_units(keyed[c].reindex(first.index), lay)
        ok = ~np.isnan(a) & ~np.isnan(first.to_numpy())
        if ok.mean() < ANCHOR_MIN_SHARE:
            continue
        spread = float(np.std(first.to_numpy()[ok] - a[ok]))
        if spread < ANCHOR_MAX_SPREAD * spread0 and (best is None or spread < best[1]):
            best = (c, spread, float(np.median(a[ok])), float(np.median(first.to_numpy()[ok] - a[ok])),
                    np.quantile(a[ok], ANCHOR_QUANTILES).tolist())
    if best is None:
        return {}
    return {"anchor": best[0], "anchor_fallback": best[2], "anchor_offset": best[3], "anchor_quantiles": best[4]}


def first_offsets(lay: TableLayout, order: pd.Series, anchor: pd.Series) -> np.ndarray:
    """First events' order values as offsets from the parent's anchor date. Where the
    parent's date is null the offset is unknown: the typical offset stands in, so the
    model never learns offsets from a made-up anchor (a debut 60 years "before birth")."""
    a = anchor_units(anchor, lay)
    off = order_units(order, lay) - a
    if lay.anchor_offset is not None:
        off[np.isnan(a)] = lay.anchor_offset
    else:  # layouts saved before anchor_offset existed
        off[np.isnan(a)] = order_units(order, lay)[np.isnan(a)] - lay.anchor_fallback
    return off


def from_offsets(lay: TableLayout, offset: pd.Series, anchor: pd.Series,
                 rng: np.random.Generator | None = None) -> pd.Series:
    """First events' order values from drawn offsets; a subject whose parent date is null
    gets a plausible anchor drawn from the anchor's distribution."""
    a = anchor_units(anchor, lay)
    miss = np.isnan(a)
    if miss.any() and lay.anchor_quantiles and rng is not None:
        q = np.asarray(lay.anchor_quantiles)
        a[miss] = np.interp(rng.random(int(miss.sum())), np.linspace(0, 1, len(q)), q)
        if lay.order_integer:
            a[miss] = np.round(a[miss])
    a[np.isnan(a)] = lay.anchor_fallback
    return from_order_units(pd.to_numeric(offset, errors="coerce").to_numpy(dtype="float64") + a, lay)


def _usable(lay: TableLayout, col: str, df: pd.DataFrame) -> bool:
    kind = lay.kinds.get(col)
    if kind not in CONTEXT_KINDS:
        return False
    if kind == "categorical" and col in df.columns and df[col].nunique() > MAX_CONTEXT_CATEGORIES:
        return False
    return True


def generation_order_from(layouts: dict[str, TableLayout]) -> list[str]:
    """Parents before children, referenced tables before referencing ones."""
    return dependency_order({n: (({l.parent} - {None}) | {r.references for r in l.plain_refs}) & set(layouts)
                             for n, l in layouts.items()})


def column_types(lay: TableLayout, layouts: dict[str, TableLayout], user_types: dict[str, str]) -> dict[str, str]:
    """Kinds of the model frame's columns for the flat engine's ``types`` option, the
    derived ones from their description."""
    allowed = {"numeric", "categorical", "datetime", "boolean", "key", "text", "exclude"}
    types = {c: k for c, k in ((c, user_types.get(c, lay.kinds[c])) for c in lay.attrs) if k in allowed}
    own = {**types, **({GAP: "numeric"} if lay.order_by else {})}
    if lay.order_by:
        own[lay.order_by] = lay.order_kind  # lags hold the previous event's actual value
    ptypes = column_types(layouts[lay.parent], layouts, {}) if lay.parent else {}
    for d in lay.derived:
        if d.kind in ("count", "level", "reference_count", "gap", "position", "seasonal", "profile", "rolling",
                      "deviation", "relative"):
            kind = "numeric"
        elif d.kind == "calendar":
            kind = "categorical" if d.column in CATEGORICAL_FEATURES else "numeric"
        elif d.kind == "carried":
            kind = layouts[d.table].kinds[d.column]
        elif d.kind == "parent":
            kind = ptypes.get(d.column)
        elif d.kind == "sibling":
            kind = "numeric" if d.summary == "mean" else layouts[d.table].kinds[d.column]
        elif d.kind == "lag":
            kind = own.get(d.column)
        else:  # order: the first event's value, or its offset from the parent's date
            kind = "numeric" if lay.anchor else lay.order_kind
        if kind in allowed:
            types[d.name] = kind
    return types
