"""``RelationalGenerator``: one flat model per table, generated parent-first.

Training (``train_tables``) splits subjects into training and holdout (whole subjects,
with all their events), builds each table's model frame (see ``layout.py``) and trains
one flat model per table with the parent/position/previous-event columns as
``context_columns``. Generation draws the subject tables, then for each child the k-th
event of every subject that has more than k events, all subjects at once.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..controls import Controls, check_sampling
from ..encoding.keys import KeyEncoder
from ..errors import ConfigError, ModelFileError
from ..config import make_config
from ..generator import Generator
from ..table import train_table
from ..io import atomic_path
from ..sampling import sample_tokens
from .keys import fill_reference, new_keys
from .layout import (GAP, PARENT, POS, TableLayout, build_layouts, count_col, generation_order_from, lag_col, ref_col,
                     sort_children, training_frames, own_frame, gaps, _order_values, from_offsets,
                     sibling_summaries)
from .spec import (Link, RelationalError, TableSpec, check_table_names, context_links, dependency_order, load_frames,
                   parse_tables, propose_keys, validate)

log = logging.getLogger(__name__)

FORMAT = "lookalike-relational"
FORMAT_VERSION = 1
BATCH = 20_000
MIN_TIME_SHARE = 0.05
PARENT_TIME_SHARE = 0.25
SMALL_TABLE = 500  # tables below this many rows get at least 20 s of training (epochs are cheap)


class RelationalConfig(BaseModel):
    """Options of a related-tables training run; the rest go to every table's flat model."""

    model_config = ConfigDict(extra="forbid")
    drop_orphans: bool = Field(default=False, description="Drop rows whose foreign keys do not resolve (reported).")
    holdout_share: float = Field(default=0.1, ge=0.0, lt=0.9, description="Share of subjects kept aside for QA.")
    lags: int = Field(default=1, ge=1, le=4, description="Previous events each event is conditioned on.")
    max_training_time: float | None = Field(default=None, gt=0, description="Seconds for all tables together.")
    seed: int | None = None
    table_options: dict[str, Any] = Field(default_factory=dict, description="Options of every table's flat model.")


def _split_options(options: dict[str, Any]) -> RelationalConfig:
    rel_keys = set(RelationalConfig.model_fields) - {"table_options"}
    rel = {k: v for k, v in options.items() if k in rel_keys}
    flat = {k: v for k, v in options.items() if k not in rel_keys}
    # the flat suite moved flat tables to "small"; related tables' models (event tables with
    # their lags and parent context) keep the width their benchmarks were measured with
    flat.setdefault("model_size", "medium")
    for bad in ("context_columns", "types"):
        if bad in flat:
            raise ConfigError(f"option '{bad}' is set per table in related-tables training (types: in each table spec)")
    make_config(flat)  # validate at the door
    try:
        return RelationalConfig(**rel, table_options=flat)
    except Exception as exc:
        raise ConfigError(f"related-tables options: {exc}".replace("\n", " ")) from None


def train_tables(tables: Any, **options) -> RelationalGenerator:
    """Train one model per table of a schema (dict/list of table specs, or a YAML/JSON file)."""
    t0 = time.monotonic()
    specs, file_options = parse_tables(tables)
    config = _split_options({**file_options, **options})
    check_table_names(specs)
    frames = load_frames(specs)
    propose_keys(specs, frames)
    dropped = validate(specs, frames, drop_orphans=config.drop_orphans)
    rng = np.random.default_rng(config.seed)
    key_rng = np.random.default_rng(None if config.seed is None else [int(config.seed), 13])
    train, holdout = split_by_subject(context_links(specs), frames, config.holdout_share, rng)
    # everything the model file keeps is learned from the training subjects only
    layouts = build_layouts(specs, train, lags=config.lags, seed=config.seed)
    for s in specs:  # ... but new keys avoid the holdout's keys too
        if s.primary_key:
            pk = frames[s.name][s.primary_key]
            layouts[s.name].key = KeyEncoder(s.primary_key, str(pk.dtype)).fit(pk, key_rng, protect=False).state()
    model_frames, _ = training_frames(layouts, train)
    share = time_shares(layouts, model_frames)
    t_train = time.monotonic()
    models: dict[str, Generator] = {}
    training: dict[str, Any] = {"orphans_dropped": dropped, "tables": {}}
    types_by_table = {s.name: s.types for s in specs}
    from .layout import column_types

    order = generation_order_from(layouts)
    for i, name in enumerate(order):
        lay = layouts[name]
        frame = model_frames[name]
        opts = dict(config.table_options)
        if config.max_training_time:
            # what earlier tables left unused (early stopping) goes to the tables still to train
            left = max(config.max_training_time - (time.monotonic() - t_train), 1.0)
            opts["max_training_time"] = left * share[name] / sum(share[n] for n in order[i:])
        if config.seed is not None:
            opts["seed"] = int(rng.integers(2**31))
        if len(frame) < SMALL_TABLE and "max_training_time" in opts:  # tiny tables: epochs are cheap, let them converge
            opts["max_training_time"] = max(opts["max_training_time"], 20.0)
        log.info("training table '%s' (%d rows, %d columns, %d context)", name, len(frame), len(frame.columns),
                 len(lay.context))
        # derived columns that are all null (no second events: no lags, no gaps) carry nothing,
        # and the flat engine cannot fit a numeric column without values
        frame = frame.drop(columns=[c for c in frame.columns if (c in lay.context or c == GAP) and frame[c].isna().all()])
        types = column_types(lay, layouts, types_by_table.get(name, {}))
        models[name] = train_table(frame, holdout_share=0.0, context_columns=[c for c in lay.context if c in frame.columns],
                                  types={c: k for c, k in types.items() if c in frame.columns}, **opts)
        for enc in models[name].encoder_.encoders:  # keys of its own: new ones avoid the holdout's too
            if isinstance(enc, KeyEncoder) and enc.name in frames[name].columns:
                enc.fit(frames[name][enc.name], key_rng, protect=False)
        training["tables"][name] = models[name].training_
    training["seconds"] = round(time.monotonic() - t0, 2)
    g = RelationalGenerator(config, layouts, models, training)
    g.train_tables_, g.holdout_tables_ = train, holdout
    return g


def time_shares(layouts: dict[str, TableLayout], model_frames: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Each table's share of ``max_training_time``: its rows x columns, but at least
    PARENT_TIME_SHARE for a table with children (its count columns decide how many events
    every subject gets, and its model is small, so the share buys many epochs)."""
    weights = {n: max(len(f), 1) * max(len(f.columns), 1) for n, f in model_frames.items()}
    total = sum(weights.values())
    share = {n: max(w / total, PARENT_TIME_SHARE if layouts[n].children else MIN_TIME_SHARE)
             for n, w in weights.items()}
    norm = sum(share.values())
    return {n: v / norm for n, v in share.items()}


def split_by_subject(links: dict[str, Link | None], frames: dict[str, pd.DataFrame], share: float,
                     rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Keep whole subjects aside: a share of every root table's rows, with all their
    descendants. ``links``: each table's context parent (``spec.context_links``)."""
    train, hold = {}, {}
    for name in dependency_order({n: set() if l is None else {l.parent} for n, l in links.items()}):
        link, df = links[name], frames[name]
        if link is None:
            n_hold = int(len(df) * share) if len(df) >= 50 else 0
            is_hold = np.zeros(len(df), dtype=bool)
            is_hold[rng.permutation(len(df))[:n_hold]] = True
        else:
            is_hold = df[link.column].isin(hold[link.parent][link.parent_key]).to_numpy()
        train[name] = df[~is_hold].reset_index(drop=True)
        hold[name] = df[is_hold].reset_index(drop=True)
    return train, hold


def _draw(g: Generator, seed: pd.DataFrame | None, n: int, context: list[str], forbid_null: list[str],
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


class RelationalGenerator:
    """Trained models for a schema of related tables. ``sample`` generates every table.

    Learned state: ``layouts_`` (how each table maps to its flat model), ``models_`` (one
    ``Generator`` per table), ``config_``, ``training_``. ``train_tables_`` and
    ``holdout_tables_`` hold real rows for QA (split by subject); never saved in the model file.
    """

    def __init__(self, config: RelationalConfig, layouts: dict[str, TableLayout], models: dict[str, Generator],
                 training: dict[str, Any] | None = None):
        self.config_ = config
        self.layouts_ = layouts
        self.models_ = models
        self.training_ = training or {}
        self.train_tables_: dict[str, pd.DataFrame] | None = None
        self.holdout_tables_: dict[str, pd.DataFrame] | None = None
        self._path: Path | None = None

    @property
    def tables(self) -> list[str]:
        return generation_order_from(self.layouts_)

    def __repr__(self) -> str:
        return f"<lookalike.RelationalGenerator: tables {self.tables}>"

    # --- generation ---------------------------------------------------------------------
    def sample(self, size: dict[str, int] | None = None, *, seed: int | None = None,
               out: str | os.PathLike[str] | None = None, continue_from: dict[str, Any] | None = None,
               steps: int = 1, temperature: float = 1.0, top_p: float = 1.0) -> dict[str, pd.DataFrame]:
        """Generate every table. ``size={"users": 10000}`` sets subject (root) tables' row
        counts (default: the input's); children follow from the model. ``out``: a folder
        (one CSV per table; ``DIR/*.parquet`` style via ``out="dir?format=parquet"`` is not
        needed: pass a folder ending in ``.parquet`` to get Parquet) or a ``.sqlite`` file.

        ``continue_from={"users": df, "purchases": df}``: real subjects with their history;
        returns the next ``steps`` events of each subject for every child table given.

        ``temperature`` and ``top_p`` act on every table's model as in ``Generator.sample``;
        the same ``seed`` gives the same tables.
        """
        check_sampling(temperature, top_p)
        if continue_from is not None:
            return self._continue(continue_from, steps, seed, temperature, top_p)
        size = dict(size or {})
        for name, n in size.items():
            if name not in self.layouts_:
                raise ConfigError(f"size: unknown table '{name}'; tables are {self.tables}")
            if self.layouts_[name].parent is not None:
                raise ConfigError(f"size: table '{name}' is a child of '{self.layouts_[name].parent}'; its size follows "
                                  f"from the model; set the size of '{self._root(name)}' instead")
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"size: table '{name}': expected a positive number of rows, got {n!r}")
        # one stream per table and one for filling references, all from the caller's seed
        streams = np.random.SeedSequence(seed).spawn(len(self.layouts_) + 1) if seed is not None else None
        generated: dict[str, pd.DataFrame] = {}  # model frames (own + context), one row per output row
        parent_row: dict[str, np.ndarray] = {}
        outputs: dict[str, pd.DataFrame] = {}
        for i, name in enumerate(self.tables):
            lay = self.layouts_[name]
            draw = Drawing.seeded(None if streams is None else streams[i], temperature, top_p)
            if lay.parent is None:
                frame = _draw(self.models_[name], None, int(size.get(name, lay.rows)), [], [], draw)
                parent_row[name] = np.zeros(len(frame), dtype=np.int64)
            else:
                frame, parent_row[name] = self._sequences(name, generated[lay.parent], draw)
                pframe = generated[lay.parent]  # summaries for the siblings still to come
                for col, summary in sibling_summaries(self.layouts_, name, frame, parent_row[name],
                                                      pd.RangeIndex(len(pframe))).items():
                    pframe[col] = summary.to_numpy()
            generated[name] = frame
            outputs[name] = self._output(name, frame, parent_row[name], generated, outputs, draw.rng)
        self._fill_references(outputs, generated, parent_row, np.random.default_rng(None if streams is None else streams[-1]))
        if out is not None:
            write_tables(outputs, out)
        return outputs

    def _root(self, name: str) -> str:
        while self.layouts_[name].parent is not None:
            name = self.layouts_[name].parent
        return name

    def _sequences(self, name: str, parent_frame: pd.DataFrame, draw: Drawing,
                   start: dict[str, Any] | None = None, steps: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Events of table ``name`` for every parent row: step k draws the k-th event of every
        subject with more than k events. ``start`` (continuation) gives each subject's
        position, last order value and lag values to begin from."""
        lay = self.layouts_[name]
        g = self.models_[name]
        n_parent = len(parent_frame)
        ctx = parent_frame.reindex(columns=lay.parent_context).reset_index(drop=True)
        ctx.columns = [PARENT + c for c in lay.parent_context]
        if start is None:
            lengths = np.rint(pd.to_numeric(parent_frame[count_col(name)], errors="coerce").fillna(0).to_numpy())
            lengths = lengths.clip(0).astype(np.int64)
            pos0 = np.zeros(n_parent, dtype=np.int64)
            lags = pd.DataFrame(index=range(n_parent), columns=[lag_col(j, c) for j in range(1, lay.lags + 1)
                                                                 for c in lay.lagged], dtype=object)
            last_order = pd.Series([pd.NaT if lay.order_kind == "datetime" else np.nan] * n_parent)
            if lay.order_kind == "datetime":
                last_order = pd.Series(pd.NaT, index=range(n_parent), dtype="datetime64[ns]")
        else:
            pos0 = start["pos"]
            lengths = pos0 + steps
            lags, last_order = start["lags"], start["last_order"]
        frames, owners = [], []
        k = 0
        total_steps = int((lengths - pos0).max()) if n_parent else 0
        for step in range(total_steps):
            act = np.flatnonzero(lengths > pos0 + step)
            if not len(act):
                break
            pos = pos0[act] + step
            seed = pd.concat([ctx.iloc[act].reset_index(drop=True), lags.iloc[act].reset_index(drop=True)], axis=1)
            seed[POS] = pos
            for c in seed.columns:  # object columns of lags back to their values' dtype
                if seed[c].dtype == object:
                    seed[c] = pd.Series(seed[c].tolist())
                    if seed[c].isna().all():
                        seed[c] = seed[c].astype("float64")
            forbid = []
            if lay.order_by and not lay.order_has_null:
                forbid = [lay.order_by] if (pos == 0).all() else ([GAP] if (pos > 0).all() else [])
            drawn = _draw(g, seed, len(act), lay.context, forbid, draw)
            if lay.order_by:
                first = pos == 0
                prev = last_order.iloc[act].reset_index(drop=True)
                gap = (pd.to_numeric(drawn[GAP], errors="coerce").clip(lower=0).fillna(0).to_numpy()
                       if GAP in drawn.columns else np.zeros(len(drawn)))
                if lay.anchor:  # the first event: an offset from the parent's date
                    own = from_offsets(lay, drawn[lay.order_by], ctx[PARENT + lay.anchor].iloc[act], draw.rng)
                elif lay.order_kind == "datetime":
                    own = pd.to_datetime(drawn[lay.order_by]).astype("datetime64[ns]")
                else:
                    own = pd.to_numeric(drawn[lay.order_by], errors="coerce")
                if lay.order_kind == "datetime":
                    later = prev + pd.to_timedelta(gap, unit="D")
                else:
                    later = prev + gap
                actual = own.where(first, later)
                drawn[lay.order_by] = actual.to_numpy()
                last_order.iloc[act] = actual.to_numpy()
            drawn[POS] = pos
            for j in range(lay.lags, 1, -1):  # shift the window of previous events
                for c in lay.lagged:
                    lags.iloc[act, lags.columns.get_loc(lag_col(j, c))] = lags.iloc[act][lag_col(j - 1, c)].to_numpy()
            for c in lay.lagged:
                if c in drawn.columns:
                    lags.iloc[act, lags.columns.get_loc(lag_col(1, c))] = drawn[c].to_numpy()
            frames.append(drawn)
            owners.append(act)
            k += 1
        if not frames:
            empty = _draw(g, None, 1, [], [], draw).iloc[:0]
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

    def _output(self, name: str, frame: pd.DataFrame, owner: np.ndarray, generated: dict[str, pd.DataFrame],
                outputs: dict[str, pd.DataFrame], rng: np.random.Generator) -> pd.DataFrame:
        """The table as the user sees it: input columns and dtypes, new keys, carried constants."""
        lay = self.layouts_[name]
        n = len(frame)
        cols: dict[str, Any] = {}
        for c in lay.columns:
            if c == lay.primary_key:
                cols[c] = new_keys(lay, n)
            elif c == lay.parent_fk:
                cols[c] = outputs[lay.parent][self.layouts_[lay.parent].primary_key].to_numpy()[owner]
            elif lay.parent and c in self.layouts_[lay.parent].carried.get(name, []):
                pv = generated[lay.parent][f"{name}.{c}"].to_numpy().copy()
                miss = pd.isna(pv)
                if c in lay.nonnull and miss.any() and (~miss).any():  # never null in the input: never null here
                    pv[miss] = rng.choice(pv[~miss], int(miss.sum()))
                cols[c] = pv[owner]
            elif c == lay.order_by:
                cols[c] = _format_order(frame[c], lay)
            elif c in frame.columns and isinstance(key := self._encoder(name, c), KeyEncoder):
                # numbered over the whole table: events drawn step by step would repeat them
                cols[c] = key.decode(np.zeros((n, 0), dtype=np.int64), rng).to_numpy()
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
        enc = self.models_[name].encoder_
        return enc.encoder(column) if column in enc.columns else None

    def _fill_references(self, outputs: dict[str, pd.DataFrame], generated: dict[str, pd.DataFrame],
                         parent_row: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        # for each table, the generated row index of each of its ancestors
        anc: dict[str, dict[str, np.ndarray]] = {}
        for name in self.tables:
            lay = self.layouts_[name]
            n = len(outputs[name])
            anc[name] = {name: np.arange(n)}
            if lay.parent is not None:
                for a, idx in anc[lay.parent].items():
                    anc[name][a] = idx[parent_row[name]] if len(idx) else np.zeros(0, dtype=np.int64)
        for name in self.tables:
            lay = self.layouts_[name]
            for ref in lay.plain_refs:
                target = self.layouts_[ref.references]
                keys = outputs[ref.references][target.primary_key].to_numpy()
                popularity = generated[ref.references].get(ref_col(name, ref.column))
                weights = None if popularity is None else pd.to_numeric(popularity, errors="coerce").to_numpy()
                outputs[name][ref.column] = fill_reference(ref, name, self.layouts_, len(outputs[name]), anc, keys, rng,
                                                           weights)

    def _continue(self, tables: dict[str, Any], steps: int, seed: int | None, temperature: float = 1.0,
                  top_p: float = 1.0) -> dict[str, pd.DataFrame]:
        """Next ``steps`` events of real subjects, for every child table given with its parent."""
        from ..io import read_table

        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(f"steps: expected a positive number of events to add, got {steps!r}")
        frames = {n: read_table(d, n) for n, d in tables.items()}
        for n in frames:
            if n not in self.layouts_:
                raise ConfigError(f"continue_from: unknown table '{n}'; tables are {self.tables}")
        sub = {n: self.layouts_[n] for n in frames}
        _, keyed = training_frames(sub, frames)
        result = {}
        streams = np.random.SeedSequence(seed).spawn(len(sub)) if seed is not None else None
        for i, (name, lay) in enumerate(sub.items()):
            draw = Drawing.seeded(None if streams is None else streams[i], temperature, top_p)
            if lay.parent is None or lay.parent not in frames:
                continue
            parent_lay = self.layouts_[lay.parent]
            parents = frames[lay.parent]
            pf = keyed[lay.parent].reindex(parents[parent_lay.primary_key].to_numpy()).reset_index(drop=True)
            hist = sort_children(lay, frames[name])
            hist = hist[hist[lay.parent_fk].isin(parents[parent_lay.primary_key])]
            m = parents[parent_lay.primary_key].map(hist[lay.parent_fk].value_counts()).fillna(0).astype(int).to_numpy()
            pf[count_col(name)] = m + steps  # the subject's length once continued
            own = own_frame(lay, hist, frames, self.layouts_).reset_index(drop=True)
            if lay.order_by:
                own[GAP] = gaps(own[lay.order_by], lay.order_kind)
                first = hist.groupby(lay.parent_fk, sort=False).cumcount().to_numpy() == 0
                own.loc[first, GAP] = np.nan
            own["__owner"] = hist[lay.parent_fk].to_numpy()
            lags = pd.DataFrame(index=range(len(parents)), columns=[lag_col(j, c) for j in range(1, lay.lags + 1)
                                                                    for c in lay.lagged], dtype=object)
            index = pd.Series(np.arange(len(parents)), index=parents[parent_lay.primary_key].to_numpy())
            grouped = own.groupby("__owner", sort=False)
            for j in range(1, lay.lags + 1):
                nth = grouped.nth(-j)
                rows = index.reindex(nth["__owner"].to_numpy()).to_numpy()
                for c in lay.lagged:
                    lags.iloc[rows, lags.columns.get_loc(lag_col(j, c))] = nth[c].to_numpy()
            last = pd.Series(pd.NaT if lay.order_kind == "datetime" else np.nan, index=range(len(parents)))
            if lay.order_by:
                if lay.order_kind == "datetime":
                    last = last.astype("datetime64[ns]")
                nth = grouped.nth(-1)
                last.iloc[index.reindex(nth["__owner"].to_numpy()).to_numpy()] = _order_values(
                    nth[lay.order_by], lay.order_kind).to_numpy()
            frame, owner = self._sequences(name, pf, draw, start={"pos": m, "lags": lags, "last_order": last},
                                           steps=steps)
            out = self._output(name, frame, owner, {lay.parent: pf}, {lay.parent: parents}, draw.rng)
            result[name] = out
        if not result:
            raise ConfigError(f"continue_from: give a child table together with its parent; tables: {self.tables}")
        return result

    # --- QA ---------------------------------------------------------------------------
    def report(self, synthetic: dict[str, pd.DataFrame] | None = None, *, seed: int = 0,
               out: str | os.PathLike[str] | None = None,
               json_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Related-tables QA of ``synthetic`` (default: a fresh sample at the training size)
        against the training tables, beside the holdout subjects' own figures. ``out``: the
        HTML report; ``json_out``: the metrics as JSON. Returns the metrics (a JSON-able dict)."""
        from .qa import relational_metrics, subject_lengths

        train, holdout = self._qa_tables()
        if train is None:
            raise ConfigError("this model has no QA tables beside it (MODEL.qa-train.<table>.parquet); "
                              "pass the training tables to lookalike.relational.qa.relational_metrics instead")
        if synthetic is None:
            roots = {n: len(train[n]) for n, l in self.layouts_.items() if l.parent is None}
            synthetic = self.sample(roots, seed=seed)
        metrics = relational_metrics(self.layouts_, train, synthetic, holdout)
        if out is not None:
            from .html import render

            sets = {"training": train, "synthetic": synthetic, **({"holdout": holdout} if holdout else {})}
            lengths = {child: {which: subject_lengths(self.layouts_[child], self.layouts_[self.layouts_[child].parent],
                                                      tables) for which, tables in sets.items()}
                       for child in metrics["tables"]}
            page = render(metrics, lengths, title=f"Related-tables QA: {', '.join(self.tables)}")
            with atomic_path(out) as tmp:
                tmp.write_text(page, encoding="utf-8")
        if json_out is not None:
            with atomic_path(json_out) as tmp:
                tmp.write_text(json.dumps(metrics, indent=2))
        return metrics

    def _qa_tables(self) -> tuple[dict[str, pd.DataFrame] | None, dict[str, pd.DataFrame] | None]:
        """The real tables kept for QA: in memory after training, else the files beside the model."""
        if self.train_tables_ is None and self._path is not None:
            from ..generator import qa_sidecar

            found = {}
            for which in ("train", "holdout"):
                files = {n: qa_sidecar(self._path, f"{which}.{n}") for n in self.layouts_}
                if all(f.exists() for f in files.values()):
                    found[which] = {n: pd.read_parquet(f) for n, f in files.items()}
            self.train_tables_, self.holdout_tables_ = found.get("train"), found.get("holdout")
        return self.train_tables_, self.holdout_tables_

    # --- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """One zip: meta.json (layouts, config, training summary) and one flat model file per table."""
        from ..generator import check_model_path

        path = check_model_path(path)
        self._save_qa_tables(path)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": "relational",
                "lookalike_version": __version__, "config": self.config_.model_dump(mode="json"),
                "layouts": {n: l.to_json() for n, l in self.layouts_.items()}, "training": self.training_}
        with tempfile.TemporaryDirectory() as tmpdir, atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
                z.writestr("meta.json", json.dumps(meta, indent=1, default=str))
                for name, g in self.models_.items():
                    p = Path(tmpdir) / f"{name}.lookalike"
                    g.training_sample_, g.holdout_ = None, None  # no real rows beside table models
                    g.save(p)
                    z.write(p, f"tables/{name}.lookalike")
        return path

    def _save_qa_tables(self, path: Path) -> None:
        """The real rows kept for QA go beside the model, never inside it (as for one table):
        ``MODEL.qa-train.<table>.parquet`` and ``MODEL.qa-holdout.<table>.parquet``."""
        from ..generator import qa_sidecar
        from ..io import write_table

        for which, tables in (("train", self.train_tables_), ("holdout", self.holdout_tables_)):
            for name, df in (tables or {}).items():
                write_table(df, qa_sidecar(path, f"{which}.{name}"))

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto") -> RelationalGenerator:
        p = Path(path)
        try:
            with zipfile.ZipFile(p) as z:
                meta = json.loads(z.read("meta.json"))
                if meta.get("format") != FORMAT:
                    raise ModelFileError(f"'{p}' is not a related-tables model file (format {meta.get('format')!r})")
                if meta.get("format_version", 0) > FORMAT_VERSION:
                    raise ModelFileError(f"'{p}' was written by a newer lookalike ({meta.get('lookalike_version')}); upgrade")
                layouts = {n: TableLayout.from_json(d) for n, d in meta["layouts"].items()}
                models = {}
                with tempfile.TemporaryDirectory() as tmpdir:
                    for name in layouts:
                        target = Path(tmpdir) / f"{name}.lookalike"
                        target.write_bytes(z.read(f"tables/{name}.lookalike"))
                        models[name] = Generator.load(target, device=device)
                        models[name]._path = None
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
            raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {exc}); train it again") from None
        g = cls(RelationalConfig(**meta["config"]), layouts, models, meta.get("training", {}))
        g._path = p
        return g


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


DATABASE_SUFFIXES = (".sqlite", ".db", ".sqlite3", ".duckdb")


def write_tables(outputs: dict[str, pd.DataFrame], out: str | os.PathLike[str]) -> Path:
    """Write every table: one file per table into a folder (CSV; Parquet when the folder
    name ends in ``parquet``), or one database file (``.sqlite``/``.db``, or ``.duckdb``
    with the ``duckdb`` extra). All or nothing: the tables are written aside first and
    moved into place together, so a failure leaves no half-written set behind."""
    target = Path(out)
    if not target.parent.exists():
        raise ConfigError(f"out '{target}': folder {target.parent} does not exist; create it first")
    suffix = target.suffix.lower()
    if suffix in DATABASE_SUFFIXES:
        if suffix == ".duckdb":
            try:
                import duckdb
            except ImportError:
                raise ConfigError("writing a DuckDB file needs duckdb: pip install 'lookalike[duckdb]' "
                                  "(or write .sqlite, or a folder)") from None
        with atomic_path(target) as tmp:
            tmp.unlink(missing_ok=True)
            if suffix == ".duckdb":
                con = duckdb.connect(str(tmp))
                try:
                    for name, df in outputs.items():
                        con.register("frame", df)
                        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                        con.unregister("frame")
                finally:
                    con.close()
            else:
                import sqlite3

                con = sqlite3.connect(tmp)
                try:
                    for name, df in outputs.items():
                        df.to_sql(name, con, index=False)
                    con.commit()
                finally:
                    con.close()
        return target
    if target.exists() and not target.is_dir():
        raise ConfigError(f"out '{target}' is a file; pass a folder (one file per table) or a .sqlite/.duckdb file")
    from ..io import atomic_dir, write_table

    fmt = "parquet" if target.name.endswith("parquet") else "csv"
    with atomic_dir(target) as staging:
        for name, df in outputs.items():
            write_table(df, staging / f"{name}.{fmt}")
    return target


def model_format(path: str | os.PathLike[str]) -> str | None:
    """The ``format`` recorded in a model file's meta.json, or None when unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("meta.json")).get("format")
    except Exception:  # not a zip, no meta: the flat loader gives the precise error
        return None
