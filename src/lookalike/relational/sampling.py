"""Generating related tables through each table's flat model: ``draw_rows`` is the only way
rows are drawn, and it goes through the flat engine's own sampling path
(``Generator.generate_batches``), so temperature, top-p and seeds act on every table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..controls import Controls
from ..encoding.keys import KeyEncoder
from ..errors import ConfigError
from ..generator import Generator
from .keys import KeyBlocks, fill_reference, new_keys
from .frame import (EventWindow, gap_values, own_values, parent_columns, series_anchor, sibling_summaries,
                    sort_children, training_frames)
from .series import StepDrawer, restore_measures
from .layout import DAY, GAP, POS, TableLayout, from_offsets, generation_order_from, order_units

log = logging.getLogger(__name__)


def draw_rows(g: Generator, seed: pd.DataFrame | None, n: int, context: list[str], forbid_null: list[str],
          draw: Drawing) -> pd.DataFrame:
    """``n`` rows of a table's flat model through the flat engine's own sampling path, with
    ``seed``'s columns given (its context: nulls included, they are facts) and ``forbid_null``
    never null."""
    controls = Controls(seed_data=seed, given_nulls=list(context), never_null=list(forbid_null))
    parts = list(g.generate_batches(n, controls, draw.gen, draw.rng, draw.temperature, draw.top_p))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


@dataclass
class Drawing:
    """How one table is drawn: its random streams (from the caller's seed) and the sampling
    options every table shares."""

    gen: torch.Generator
    rng: np.random.Generator
    temperature: float = 1.0
    top_p: float = 1.0

    @classmethod
    def seeded(cls, seed: np.random.SeedSequence | None, temperature: float = 1.0, top_p: float = 1.0) -> Drawing:
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed.generate_state(1)[0]))
        return cls(gen, np.random.default_rng(seed), temperature, top_p)


class TableSampler:
    """Draws every table of a schema from its models, parents first: the subject tables,
    then for each child the k-th event of every subject that has more than k events, all
    subjects at once; then keys, carried constants and references."""

    def __init__(self, layouts: dict[str, TableLayout], models: dict[str, Generator], keys: KeyBlocks | None = None):
        self.layouts = layouts
        self.models = models
        self.keys = keys or KeyBlocks()  # a shard's key numbers (``relational/shards.py``); default 0, 1, 2, ...
        self.tables = generation_order_from(layouts)

    def generate(self, size: dict[str, int], seed: int | list[int] | None, temperature: float,
                 top_p: float) -> dict[str, pd.DataFrame]:
        """Every table; ``size``: root tables' rows (default: the training subjects').
        ``seed``: an int, or a SeedSequence's entropy such as ``[seed, shard]``."""
        # one stream per table and one for filling references, all from the caller's seed
        streams = np.random.SeedSequence(seed).spawn(len(self.layouts) + 1) if seed is not None else None
        generated: dict[str, pd.DataFrame] = {}  # model frames (own + context), one row per output row
        parent_row: dict[str, np.ndarray] = {}
        outputs: dict[str, pd.DataFrame] = {}
        for i, name in enumerate(self.tables):
            lay = self.layouts[name]
            draw = Drawing.seeded(None if streams is None else streams[i], temperature, top_p)
            if lay.parent is None:
                frame = draw_rows(self.models[name], None, int(size.get(name, lay.rows)), [], [], draw)
                parent_row[name] = np.zeros(len(frame), dtype=np.int64)
            else:
                frame, parent_row[name] = self._sequences(name, generated[lay.parent], draw)
                pframe = generated[lay.parent]  # summaries for the siblings still to come
                for col, summary in sibling_summaries(self.layouts, name, frame, parent_row[name],
                                                      pd.RangeIndex(len(pframe))).items():
                    pframe[col] = summary.to_numpy()
            generated[name] = frame
            outputs[name] = self._output(name, frame, parent_row[name], generated, outputs, draw.rng)
        self._fill_references(outputs, generated, parent_row, np.random.default_rng(None if streams is None else streams[-1]))
        return outputs

    def _sequences(self, name: str, parent_frame: pd.DataFrame, draw: Drawing, window: EventWindow | None = None,
                   pos0: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Events of table ``name`` for every parent row, as many as its count column says:
        step k draws the k-th event of every subject with more than k events. ``window`` and
        ``pos0`` (a continuation): each subject's latest events and how many it has."""
        lay = self.layouts[name]
        g = self.models[name]
        n_parent = len(parent_frame)
        ctx = parent_columns(lay, parent_frame.reset_index(drop=True), np.arange(n_parent))
        count = parent_frame[self.layouts[lay.parent].column("count", table=name)]
        lengths = np.rint(pd.to_numeric(count, errors="coerce").fillna(0).to_numpy()).clip(0).astype(np.int64)
        pos0 = np.zeros(n_parent, dtype=np.int64) if pos0 is None else pos0
        window = EventWindow(lay) if window is None else window
        frames, owners = [], []
        # a long regular series: a step encodes only what changes (``series.StepDrawer``)
        stepper = StepDrawer(g, ctx, lay.context, lay.order_by) if lay.calendar and StepDrawer.usable(g) else None
        if window.series is not None:  # each subject's level, drawn with its parent
            window.series.set_anchor(np.arange(n_parent), series_anchor(lay, ctx))
        total_steps = int((lengths - pos0).max()) if n_parent else 0
        for step in range(total_steps):
            act = np.flatnonzero(lengths > pos0 + step)
            if not len(act):
                break
            pos = pos0[act] + step
            forbid = []
            if lay.order_by and not lay.order_has_null:
                forbid = [lay.order_by] if (pos == 0).all() else ([GAP] if (pos > 0).all() else [])
            given = window.context(act, pos, frame=stepper is None)
            if stepper is not None:
                drawn = stepper.draw(act, given, pos == 0, forbid, draw.gen, draw.rng, draw.temperature, draw.top_p)
            else:
                seed = pd.concat([ctx.iloc[act].reset_index(drop=True), given], axis=1)
                for c in seed.columns:  # object columns back to their values' dtype
                    if seed[c].dtype == object:
                        seed[c] = pd.Series(seed[c].tolist())
                        if seed[c].isna().all():
                            seed[c] = seed[c].astype("float64")
                drawn = draw_rows(g, seed, len(act), lay.context, forbid, draw)
            if lay.calendar is not None:  # measures drawn against their level: back to values
                restore_measures(lay.calendar, drawn, given, window.series.anchors(act))
            if lay.order_by:
                first = pos == 0
                gap = (np.nan_to_num(np.asarray(pd.to_numeric(drawn[GAP], errors="coerce"), dtype="float64")).clip(0)
                       if GAP in drawn.columns else np.zeros(len(drawn)))
                if lay.calendar is not None:  # a regular series: whole steps on its grid
                    drawn[lay.order_by] = self._on_grid(lay, drawn, first, gap, window, ctx, act, draw)
                else:
                    prev = window.previous_order(act)
                    own = self._first_order(lay, drawn, ctx, act, draw)
                    if lay.order_kind == "datetime":
                        later = prev + pd.to_timedelta(gap, unit="D")
                    else:
                        later = prev + gap
                    actual = own.where(first, later)
                    drawn[lay.order_by] = actual.to_numpy()
            drawn[POS] = pos
            window.append(drawn, act)
            frames.append(drawn)
            owners.append(act)
        if not frames:
            empty = draw_rows(g, None, 1, [], [], draw).iloc[:0]
            if lay.order_by:
                empty[lay.order_by] = pd.Series(dtype="datetime64[ns]" if lay.order_kind == "datetime" else "float64")
            return empty, np.zeros(0, dtype=np.int64)
        frame = pd.concat(frames, ignore_index=True)
        owner = np.concatenate(owners)
        order = np.lexsort((frame[POS].to_numpy(), owner))  # subjects together, events in order
        frame = frame.iloc[order].reset_index(drop=True)
        owner = owner[order]
        # the child's frame as its own children will see it: parent context attached
        pctx = ctx.iloc[owner].reset_index(drop=True)
        frame = pd.concat([frame.drop(columns=[c for c in pctx.columns if c in frame.columns]), pctx], axis=1)
        return frame, owner

    @staticmethod
    def _first_order(lay: TableLayout, drawn: pd.DataFrame, ctx: pd.DataFrame, act: np.ndarray,
                     draw: Drawing) -> pd.Series:
        """The order values drawn for first events (later rows: whatever was drawn, unused)."""
        if lay.anchor:  # the first event: an offset from the parent's date
            anchor = ctx[lay.column("parent", column=lay.anchor)].iloc[act]
            return from_offsets(lay, drawn[lay.order_by], anchor, draw.rng)
        if lay.order_kind == "datetime":
            return pd.to_datetime(drawn[lay.order_by]).astype("datetime64[ns]")
        return pd.to_numeric(drawn[lay.order_by], errors="coerce")

    def _on_grid(self, lay: TableLayout, drawn: pd.DataFrame, first: np.ndarray, gap: np.ndarray,
                 window: EventWindow, ctx: pd.DataFrame, act: np.ndarray, draw: Drawing) -> np.ndarray:
        """A calendar table's dates (datetime64[ns]): a first event's drawn date snapped to
        the grid, a later one the subject's latest grid point plus the drawn gap in whole
        steps (at least one), in arrays: a series takes thousands of these steps."""
        cal = lay.calendar
        grid = window.series.latest(act) + np.maximum(np.round(gap * DAY / cal.step), 1.0)
        if first.any():
            own = self._first_order(lay, drawn, ctx, act, draw)
            grid = np.where(first, cal.grid(order_units(own, lay) * DAY), grid)
        secs = cal.seconds(grid)
        ns = np.where(np.isnan(secs), 0, np.round(secs) * 1e9).astype(np.int64).astype("datetime64[ns]")
        ns[np.isnan(secs)] = np.datetime64("NaT")
        return ns

    def _output(self, name: str, frame: pd.DataFrame, owner: np.ndarray, generated: dict[str, pd.DataFrame],
                outputs: dict[str, pd.DataFrame], rng: np.random.Generator) -> pd.DataFrame:
        """The table as the user sees it: input columns and dtypes, new keys, carried constants."""
        lay = self.layouts[name]
        n = len(frame)
        cols: dict[str, Any] = {}
        for c in lay.columns:
            if c == lay.primary_key:
                cols[c] = new_keys(lay, n, self.keys)
            elif c == lay.parent_fk:
                cols[c] = outputs[lay.parent][self.layouts[lay.parent].primary_key].to_numpy()[owner]
            elif lay.parent and c in self.layouts[lay.parent].carried.get(name, []):
                pv = generated[lay.parent][self.layouts[lay.parent].column("carried", name, c)].to_numpy().copy()
                miss = pd.isna(pv)
                if c in lay.nonnull and miss.any() and (~miss).any():  # never null in the input: never null here
                    pv[miss] = rng.choice(pv[~miss], int(miss.sum()))
                cols[c] = pv[owner]
            elif c == lay.order_by:
                cols[c] = _format_order(frame[c], lay)
            elif c in frame.columns and isinstance(key := self._encoder(name, c), KeyEncoder):
                # numbered over the whole table: events drawn step by step would repeat them
                cols[c] = self.keys.keys(lambda start, k, key=key: key.decode(np.zeros((k, 0), dtype=np.int64), rng,
                                                                            start=start), n)
            elif c in frame.columns:
                cols[c] = frame[c].to_numpy()
            else:  # plain references are filled once every table exists
                cols[c] = np.full(n, None, dtype=object)
        out = pd.DataFrame(cols)
        for c in lay.columns:
            if c not in (lay.primary_key, lay.parent_fk) and str(out[c].dtype) != lay.dtypes[c] and not out[c].isna().all():
                out[c] = _restore_dtype(out[c], lay.dtypes[c], name)
        return out

    def _encoder(self, name: str, column: str) -> Any:
        enc = self.models[name].encoder_
        return enc.encoder(column) if column in enc.columns else None

    def _fill_references(self, outputs: dict[str, pd.DataFrame], generated: dict[str, pd.DataFrame],
                         parent_row: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        # for each table, the generated row index of each of its ancestors
        anc: dict[str, dict[str, np.ndarray]] = {}
        for name in self.tables:
            lay = self.layouts[name]
            n = len(outputs[name])
            anc[name] = {name: np.arange(n)}
            if lay.parent is not None:
                for a, idx in anc[lay.parent].items():
                    anc[name][a] = idx[parent_row[name]] if len(idx) else np.zeros(0, dtype=np.int64)
        for name in self.tables:
            lay = self.layouts[name]
            for ref in lay.plain_refs:
                target = self.layouts[ref.references]
                keys = outputs[ref.references][target.primary_key].to_numpy()
                popularity = generated[ref.references].get(target.column("reference_count", name, ref.column))
                weights = None if popularity is None else pd.to_numeric(popularity, errors="coerce").to_numpy()
                outputs[name][ref.column] = fill_reference(ref, name, self.layouts, len(outputs[name]), anc, keys, rng,
                                                           weights)

    def continue_from(self, tables: dict[str, Any], steps: int, seed: int | None, temperature: float = 1.0,
                  top_p: float = 1.0) -> dict[str, pd.DataFrame]:
        """Next ``steps`` events of real subjects, for every child table given with its parent."""
        from ..io import read_table

        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(f"steps: expected a positive number of events to add, got {steps!r}")
        frames = {n: read_table(d, n) for n, d in tables.items()}
        for n in frames:
            if n not in self.layouts:
                raise ConfigError(f"continue_from: unknown table '{n}'; tables are {self.tables}")
        sub = {n: self.layouts[n] for n in frames}
        _, keyed = training_frames(sub, frames)
        result = {}
        streams = np.random.SeedSequence(seed).spawn(len(sub)) if seed is not None else None
        for i, (name, lay) in enumerate(sub.items()):
            draw = Drawing.seeded(None if streams is None else streams[i], temperature, top_p)
            if lay.parent is None or lay.parent not in frames:
                continue
            parent_lay = self.layouts[lay.parent]
            parents = frames[lay.parent]
            pf = keyed[lay.parent].reindex(parents[parent_lay.primary_key].to_numpy()).reset_index(drop=True)
            hist = sort_children(lay, frames[name])
            hist = hist[hist[lay.parent_fk].isin(parents[parent_lay.primary_key])]
            m = parents[parent_lay.primary_key].map(hist[lay.parent_fk].value_counts()).fillna(0).astype(int).to_numpy()
            pf[parent_lay.column("count", table=name)] = m + steps  # the subject's length once continued
            # the history as the model frame holds it: own values, gaps
            owner = pd.Series(np.arange(len(parents)), index=parents[parent_lay.primary_key].to_numpy()).reindex(
                hist[lay.parent_fk].to_numpy()).to_numpy()
            rows = own_values(lay, hist).reset_index(drop=True)
            for d in lay.derived_of("gap"):
                rows[d.name] = gap_values(lay, rows[d.column], owner)
            frame, owner = self._sequences(name, pf, draw, EventWindow(lay, rows, owner), pos0=m)
            out = self._output(name, frame, owner, {lay.parent: pf}, {lay.parent: parents}, draw.rng)
            result[name] = out
        if not result:
            raise ConfigError(f"continue_from: give a child table together with its parent; tables: {self.tables}")
        return result


def _restore_dtype(values: pd.Series, dtype: str, table: str) -> pd.Series:
    """A generated column back in its input dtype: integers with nulls become nullable
    integers; a column whose values no longer fit the dtype keeps them as they are, with a
    warning naming it (never silently)."""
    if dtype.startswith(("int", "uint")) and values.isna().any():
        dtype = dtype.capitalize().replace("Uint", "UInt")  # pandas' nullable integer of the same width
    try:
        return values.astype(dtype)
    except (TypeError, ValueError) as exc:
        log.warning("table '%s', column '%s': generated values kept as %s, not the input's %s (%s)",
                    table, values.name, values.dtype, dtype, exc)
        return values


def _format_order(values: pd.Series, lay: TableLayout) -> np.ndarray:
    """The order column back in the input's type (date strings, datetimes or numbers)."""
    dtype = lay.dtypes[lay.order_by]
    if lay.order_kind == "datetime":
        dt = pd.to_datetime(values).astype("datetime64[ns]")
        if dtype.startswith("datetime64"):
            return dt.to_numpy()
        fmt = "%Y-%m-%d" if lay.date_only else "%Y-%m-%d %H:%M:%S"
        return dt.dt.strftime(fmt).to_numpy(dtype=object)
    v = pd.to_numeric(values, errors="coerce")
    if "int" in dtype.lower():
        return v.round().astype("Int64" if v.isna().any() else "int64").to_numpy()
    return v.to_numpy()
