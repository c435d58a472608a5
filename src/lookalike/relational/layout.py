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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..encoding.keys import KeyEncoder
from ..schema import infer_schema, to_datetime
from .spec import Link, TableSpec, dependency_order

POS = "__pos"
GAP = "__gap"
PARENT = "parent."
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


SIBLING = "__s."


def sib_col(sibling: str, col: str) -> str:
    """A per-subject summary of an earlier sibling table's column (batting sees fielding)."""
    return f"{SIBLING}{sibling}.{col}"


def lag_col(j: int, col: str) -> str:
    return f"prev{j}.{col}"


@dataclass
class PlainRef:
    column: str
    references: str
    null_share: float
    unique: bool


@dataclass
class TableLayout:
    """Everything needed to rebuild one table from its flat model's output (JSON-able)."""

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
    context: list[str] = field(default_factory=list)  # context columns of the model frame
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

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> TableLayout:
        d = dict(d)
        d["plain_refs"] = [PlainRef(**r) for r in d.get("plain_refs", [])]
        return cls(**d)

    @property
    def counts(self) -> list[str]:
        return [count_col(c) for c in self.children]

    @property
    def carried_cols(self) -> list[str]:
        return [f"{c}.{col}" for c, cols in self.carried.items() for col in cols]

    @property
    def ref_counts(self) -> list[str]:
        """Per row, how often each plain reference points at it: learned, then used as the
        weight of the row when references are filled (popular districts stay popular)."""
        return [ref_col(t, c) for t, c in self.referenced_by]

    @property
    def model_columns(self) -> list[str]:
        """Columns the table's own model learns (not the context). Counts of events come
        first: the first column's distribution is learned as a plain marginal, the most
        accurate place for the number of events every subject gets."""
        gap = [GAP] if self.parent and self.order_by else []
        return self.counts + self.attrs + gap + self.carried_cols + self.ref_counts


@dataclass(frozen=True)
class DerivedColumn:
    """One column of a table's model frame that is not an input column as it stands: what
    it is, where it comes from, and how generation turns it back into output."""

    name: str  # its name in the model frame
    kind: str  # count | reference_count | carried | gap | position | parent | sibling | lag
    source: str  # where its values come from, in the user's terms
    inverse: str  # what generation does with it
    context: bool  # always given at generation (context), or drawn by the table's model


def derived_columns(lay: TableLayout) -> list[DerivedColumn]:
    """The model frame of ``lay`` beyond its own input columns, built from the layout alone
    (the one place that spells out the derived-column names)."""
    out = [DerivedColumn(count_col(c), "count", f"number of '{c}' rows per row of '{lay.name}'",
                         f"how many '{c}' events are drawn for the row", False) for c in lay.children]
    out += [DerivedColumn(ref_col(t, c), "reference_count", f"rows of '{t}' whose '{c}' points at the row",
                          f"weight of the row when '{t}.{c}' is filled", False) for t, c in lay.referenced_by]
    out += [DerivedColumn(f"{child}.{c}", "carried", f"'{child}.{c}', constant within each subject",
                          f"copied to every '{child}' row of the subject", False)
            for child, cols in lay.carried.items() for c in cols]
    if lay.parent and lay.order_by:
        out.append(DerivedColumn(GAP, "gap", f"'{lay.order_by}' minus the previous event's",
                                 f"'{lay.order_by}' = previous value + gap (events in order)", False))
    if lay.parent:
        out += [DerivedColumn(PARENT + c, "parent", f"'{lay.parent}' row's '{c}'", "given, not output", True)
                for c in lay.parent_context if not c.startswith(SIBLING)]
        out += [DerivedColumn(PARENT + sib_col(sib, c), "sibling", f"the subject's {how} of '{sib}.{c}'",
                              "given, not output", True) for sib, c, how in lay.sibling_context]
        out.append(DerivedColumn(POS, "position", "the event's position in its subject's sequence (0, 1, ...)",
                                 "given, not output", True))
        out += [DerivedColumn(lag_col(j, c), "lag", f"'{c}' of the event {j} before", "given, not output", True)
                for j in range(1, lay.lags + 1) for c in lay.lagged]
    return out


def _order_values(s: pd.Series, kind: str) -> pd.Series:
    """Order column as datetime64 (dates) or float (numbers)."""
    if kind == "datetime":
        return to_datetime(s).astype("datetime64[ns]")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def build_layouts(specs: list[TableSpec], frames: dict[str, pd.DataFrame], lags: int = 1,
                  seed: int | None = None, key_frames: dict[str, pd.DataFrame] | None = None) -> dict[str, TableLayout]:
    """Decide each table's model frame from ``frames`` (the training subjects' rows). New
    primary keys avoid every key of ``key_frames`` (all real rows; default ``frames``)."""
    by_name = {s.name: s for s in specs}
    rng = np.random.default_rng(None if seed is None else [int(seed), 11])
    layouts: dict[str, TableLayout] = {}
    for s in specs:
        df = frames[s.name]
        ctx = s.context_key
        keys = ({s.primary_key} | {fk.column for fk in s.foreign_keys or []}) - {None}
        rest = df.drop(columns=[c for c in keys if c in df.columns])
        schema = infer_schema(rest, {k: v for k, v in s.types.items() if k not in keys}, name=s.name)
        kinds = {c: "key" for c in keys} | {c.name: c.kind for c in schema.columns}
        lay = TableLayout(name=s.name, columns=list(df.columns), dtypes={c: str(df[c].dtype) for c in df.columns},
                          kinds=kinds, rows=len(df), primary_key=s.primary_key, lags=lags,
                          nonnull=[c for c in df.columns if bool(df[c].notna().all())])
        if s.primary_key:
            pk = (key_frames or frames)[s.name][s.primary_key]
            lay.key_is_int = bool(pd.api.types.is_integer_dtype(pk))
            lay.key = KeyEncoder(s.primary_key, str(pk.dtype)).fit(pk, rng, protect=False).state()
        if ctx:
            lay.parent, lay.parent_fk = ctx.references, ctx.column
        for fk in s.plain_keys:
            col = df[fk.column]
            nn = col.dropna()
            lay.plain_refs.append(PlainRef(fk.column, fk.references, float(col.isna().mean()), bool(nn.is_unique)))
        order = s.order_by
        if order is None and ctx is not None:
            order = next((c for c in df.columns if kinds[c] == "datetime" and c not in keys), None)
        if order is not None and ctx is not None:
            lay.order_by = order
            lay.order_kind = "datetime" if kinds[order] == "datetime" else "numeric"
            vals = _order_values(df[order], lay.order_kind)
            lay.order_has_null = bool(vals.isna().any())
            if lay.order_kind == "numeric":
                nn = vals.dropna().to_numpy()
                lay.order_integer = bool(len(nn) and np.all(np.mod(nn, 1) == 0))
            if lay.order_kind == "datetime":
                secs = vals.dropna().astype("int64").to_numpy() / 1e9
                lay.date_only = bool(np.all(np.mod(secs, DAY) == 0))
        lay.attrs = [c for c in df.columns if c not in keys and kinds[c] != "exclude"]
        layouts[s.name] = lay
    for s in specs:
        for fk in s.plain_keys:
            if by_name[fk.references].primary_key is not None:
                layouts[fk.references].referenced_by.append([s.name, fk.column])
    # children, constants carried by parents
    for s in specs:
        lay = layouts[s.name]
        if lay.parent is None:
            continue
        parent = layouts[lay.parent]
        parent.children.append(s.name)
        df = frames[s.name]
        g = df.groupby(lay.parent_fk, sort=False)
        sizes = g.size()
        multi = sizes[sizes >= 2].index
        if len(multi) >= MIN_GROUPS_FOR_CONSTANT:
            sub = df[df[lay.parent_fk].isin(multi)]
            gs = sub.groupby(lay.parent_fk, sort=False)
            const = [c for c in lay.attrs if c != lay.order_by and lay.kinds[c] in CONTEXT_KINDS
                     and bool((gs[c].nunique(dropna=False) <= 1).all())]
            if const:
                parent.carried[s.name] = const
                lay.attrs = [c for c in lay.attrs if c not in const]
    # context: parent's columns (and grandparent's), earlier siblings' summaries, lags
    done: set[str] = set()
    for name in generation_order_from(layouts):
        lay = layouts[name]
        done.add(name)
        if lay.parent is None:
            continue
        parent = layouts[lay.parent]
        pcols = [c for c in parent.attrs if _usable(parent, c, frames[parent.name])]
        pcols += parent.counts + parent.carried_cols + parent.ref_counts
        if parent.parent is not None:  # grandparent attributes the parent already sees
            pcols += [c for c in parent.context if c.startswith(PARENT) and not c.startswith(PARENT + PARENT)]
        # siblings generated before this table, summarised per subject (its mean or most
        # frequent value): the subject's batting rows are drawn knowing its fielding rows
        lay.sibling_context = [[sib, c, "mean" if layouts[sib].kinds[c] == "numeric" else "mode"]
                               for sib in parent.children if sib in done and sib != name
                               for c in layouts[sib].lagged
                               if c != GAP and layouts[sib].kinds.get(c) in ("numeric", "categorical", "boolean")]
        pcols += [sib_col(sib, c) for sib, c, _ in lay.sibling_context]
        lay.parent_context = pcols
        lay.lagged = [c for c in lay.attrs if lay.kinds[c] in CONTEXT_KINDS and _usable(lay, c, frames[name])]
        if lay.order_by:
            lay.lagged.append(GAP)
        lay.context = [PARENT + c for c in pcols] + [POS] + [lag_col(j, c) for j in range(1, lags + 1) for c in lay.lagged]
        if lay.order_by:
            _pick_anchor(lay, parent, frames[name], frames[parent.name], pcols)
    return layouts


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


def _pick_anchor(lay: TableLayout, parent: TableLayout, df: pd.DataFrame, pdf: pd.DataFrame, pcols: list[str]) -> None:
    """Tie the first event's order value to a parent date (birth date -> first season)
    when the offset is far tighter than the first value itself: the model then learns
    the offset, and the first event can never come out before its parent's date by chance."""
    cands = [c for c in pcols if c in parent.attrs and parent.kinds.get(c) == "datetime"]
    if not cands or lay.order_has_null or not len(df):
        return
    first = df.assign(__o=order_units(df[lay.order_by], lay)).groupby(lay.parent_fk, sort=False)["__o"].min()
    spread0 = float(np.nanstd(first.to_numpy()))
    if not spread0 > 0:
        return
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
    if best is not None:
        lay.anchor, lay.anchor_fallback, lay.anchor_offset, lay.anchor_quantiles = best[0], best[2], best[3], best[4]


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


def sibling_summaries(layouts: dict[str, TableLayout], name: str, values: pd.DataFrame, owner: np.ndarray,
                      index: pd.Index) -> dict[str, pd.Series]:
    """The per-subject summaries of table ``name`` that its later siblings use as context:
    ``values`` holds its rows' actual values, ``owner`` each row's subject (a label of
    ``index``). Subjects without rows get null."""
    wanted = {(s, c, agg) for lay in layouts.values() for s, c, agg in lay.sibling_context if s == name}
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


def generation_order_from(layouts: dict[str, TableLayout]) -> list[str]:
    """Parents before children, referenced tables before referencing ones."""
    return dependency_order({n: (({l.parent} - {None}) | {r.references for r in l.plain_refs}) & set(layouts)
                             for n, l in layouts.items()})


def links_of(layouts: dict[str, TableLayout]) -> dict[str, Link | None]:
    """Each table's context parent, as ``spec.context_links`` gives it from the specs."""
    return {n: None if l.parent is None else Link(l.parent, l.parent_fk, layouts[l.parent].primary_key)
            for n, l in layouts.items()}


def column_types(lay: TableLayout, layouts: dict[str, TableLayout], user_types: dict[str, str]) -> dict[str, str]:
    """Kinds of the model frame's columns for the flat engine's ``types`` option."""
    allowed = {"numeric", "categorical", "datetime", "boolean", "key", "text", "exclude"}
    types = {c: k for c, k in ((c, user_types.get(c, lay.kinds[c])) for c in lay.attrs) if k in allowed}
    if lay.order_by:
        types[lay.order_by] = "numeric" if lay.anchor else lay.order_kind
    for c in lay.counts + lay.ref_counts:
        types[c] = "numeric"
    for child, cols in lay.carried.items():
        for c in cols:
            k = layouts[child].kinds[c]
            if k in allowed:
                types[f"{child}.{c}"] = k
    if lay.parent:
        if lay.order_by:
            types[GAP] = "numeric"
        types[POS] = "numeric"
        ptypes = column_types(layouts[lay.parent], layouts, {})
        for sib, c, agg in lay.sibling_context:
            ptypes[sib_col(sib, c)] = "numeric" if agg == "mean" else layouts[sib].kinds[c]
        for c in lay.parent_context:
            k = ptypes.get(c)
            if k is not None:
                types[PARENT + c] = k
        own = {**types}
        if lay.order_by:
            own[lay.order_by] = lay.order_kind  # lags hold the previous event's actual value
        for j in range(1, lay.lags + 1):
            for c in lay.lagged:
                if c in own:
                    types[lag_col(j, c)] = own[c]
    return types


def own_frame(lay: TableLayout, df: pd.DataFrame, frames: dict[str, pd.DataFrame],
              layouts: dict[str, TableLayout]) -> pd.DataFrame:
    """The table's own columns plus child counts and carried constants, one row per input
    row (input order). For children, rows are in (parent, order) order."""
    out = pd.DataFrame({c: df[c] for c in lay.attrs}, index=df.index)
    if lay.order_by:
        out[lay.order_by] = _order_values(df[lay.order_by], lay.order_kind)
    for child in lay.children:
        cl = layouts[child]
        cdf = frames.get(child)
        if cdf is None:  # not given (continuation of one child): unknown, not zero
            out[count_col(child)] = np.nan
            for c in lay.carried.get(child, []):
                out[f"{child}.{c}"] = np.nan
            continue
        counts = cdf[cl.parent_fk].value_counts()
        out[count_col(child)] = df[lay.primary_key].map(counts).fillna(0).astype("int64").to_numpy()
        if child in lay.carried:
            first = cdf.groupby(cl.parent_fk, sort=False)[lay.carried[child]].first()
            for c in lay.carried[child]:
                out[f"{child}.{c}"] = df[lay.primary_key].map(first[c]).to_numpy()
    for table, column in lay.referenced_by:
        rdf = frames.get(table)
        if rdf is None or column not in rdf.columns:
            out[ref_col(table, column)] = np.nan
        else:
            counts = rdf[column].value_counts()
            out[ref_col(table, column)] = df[lay.primary_key].map(counts).fillna(0).astype("int64").to_numpy()
    return out


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


def training_frames(layouts: dict[str, TableLayout], frames: dict[str, pd.DataFrame]
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The model frame of every table (own columns + context), built from real tables;
    and, for tables with children, the full frames indexed by primary key."""
    own: dict[str, pd.DataFrame] = {}
    keyed: dict[str, pd.DataFrame] = {}  # own frames (with context) indexed by primary key, for children
    out: dict[str, pd.DataFrame] = {}
    for name in generation_order_from(layouts):
        lay = layouts[name]
        df = sort_children(lay, frames[name])
        frames = {**frames, name: df}
        f = own_frame(lay, df, frames, layouts)
        if lay.parent:
            pf = keyed[lay.parent]
            pos = df.groupby(lay.parent_fk, sort=False).cumcount().to_numpy()
            first = pos == 0
            if lay.order_by:
                actual = f[lay.order_by]
                g = gaps(actual, lay.order_kind)
                g[first] = np.nan
                f[GAP] = g
            ctx = pf.reindex(df[lay.parent_fk].to_numpy()).reindex(columns=lay.parent_context)
            ctx.columns = [PARENT + c for c in lay.parent_context]
            ctx.index = f.index
            f = pd.concat([f, ctx], axis=1)
            f[POS] = pos
            for j in range(1, lay.lags + 1):
                for c in lay.lagged:
                    # the previous event must belong to the same subject
                    f[lag_col(j, c)] = f[c].shift(j).where(pos >= j)
            if lay.order_by and lay.anchor:
                off = first_offsets(lay, f[lay.order_by], f[PARENT + lay.anchor])
                f[lay.order_by] = np.where(first, off, np.nan)
            elif lay.order_by:
                f.loc[~first, lay.order_by] = pd.NaT if lay.order_kind == "datetime" else np.nan
        if lay.parent and lay.parent in keyed:
            actual = df.assign(**{lay.order_by: order_units(df[lay.order_by], lay)}) if lay.order_by else df
            for col, summary in sibling_summaries(layouts, name, actual, df[lay.parent_fk].to_numpy(),
                                                  keyed[lay.parent].index).items():
                keyed[lay.parent][col] = summary.to_numpy()
        if lay.children and lay.primary_key:
            keyed[name] = f.set_index(df[lay.primary_key].to_numpy())
        own[name] = f
        out[name] = f[lay.model_columns + lay.context]
    return out, keyed
