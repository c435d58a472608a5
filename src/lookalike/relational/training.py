"""Training related tables, straight through: parse the specs, validate them, split whole
subjects into training and holdout, decide each table's layout and build its model frame
from the training subjects (``layout.py``, ``frame.py``), then train one flat model per
table (``table.train_table``) with its parent/position/previous-event columns as
``context_columns``."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from ..encoding.keys import KeyEncoder
from ..table import train_table
from ..errors import ConfigError
from .config import RelationalConfig, split_options
from .generator import RelationalGenerator
from .frame import parent_values, training_frames
from .layout import GAP, TableLayout, build_layouts, column_types, generation_order_from
from .spec import (Link, check_table_names, context_links, dependency_order, load_frames, parse_tables, propose_keys,
                   validate)

log = logging.getLogger(__name__)

MIN_TIME_SHARE = 0.05
PARENT_TIME_SHARE = 0.25
SMALL_TABLE = 500  # tables below this many rows get at least 20 s of training (epochs are cheap)


def train_tables(tables: Any, *, ray: bool = False, ray_address: str | None = None, **options) -> RelationalGenerator:
    """Train one model per table of a schema (dict/list of table specs, or a YAML/JSON file).
    ``ray=True``: the tables' models train in parallel as Ray tasks (each table needs the
    real rows of its parents, never their models, so they are independent); the model
    file is the same in structure, each table with its share of ``max_training_time``."""
    if ray_address is not None and not ray:
        raise ConfigError("ray_address (--ray-address) needs ray=True (--ray)")
    t0 = time.monotonic()
    specs, file_options = parse_tables(tables)
    config = split_options({**file_options, **options})
    check_table_names(specs)
    frames = load_frames(specs)
    propose_keys(specs, frames)
    dropped = validate(specs, frames, drop_orphans=config.drop_orphans)
    rng = np.random.default_rng(config.seed)
    key_rng = np.random.default_rng(None if config.seed is None else [int(config.seed), 13])
    train, holdout = split_by_subject(context_links(specs), frames, config.holdout_share, rng)
    # everything the model file keeps is learned from the training subjects only; new keys
    # avoid the holdout's keys too
    layouts = build_layouts(specs, train, lags=config.lags, seed=config.seed, key_frames=frames)
    model_frames, keyed = training_frames(layouts, train)
    share = time_shares(layouts, model_frames)
    t_train = time.monotonic()
    training: dict[str, Any] = {"orphans_dropped": dropped, "tables": {}}
    types_by_table = {s.name: s.types for s in specs}

    order = generation_order_from(layouts)
    inputs = {name: _model_inputs(layouts, name, model_frames[name], types_by_table.get(name, {}),
                                  keyed.get(layouts[name].parent)) for name in order}
    seeds = {name: int(rng.integers(2**31)) for name in order} if config.seed is not None else {}
    if ray:  # all at once: each table gets its share of the budget (nothing left over to pass on)
        from ..distributed import train_on_ray

        budget = {name: config.max_training_time and config.max_training_time * share[name] for name in order}
        jobs = {name: (frame, {**kwargs, **_table_options(config, seeds.get(name), len(frame), budget[name])})
                for name, (frame, kwargs) in inputs.items()}
        models = train_on_ray(jobs, ray_address)
    else:
        models = {}
        for i, name in enumerate(order):
            frame, kwargs = inputs[name]
            budget = None
            if config.max_training_time:
                # what earlier tables left unused (early stopping) goes to the tables still to train
                left = max(config.max_training_time - (time.monotonic() - t_train), 1.0)
                budget = left * share[name] / sum(share[n] for n in order[i:])
            log.info("training table '%s' (%d rows, %d columns, %d context)", name, len(frame), len(frame.columns),
                     len(kwargs["context_columns"]))
            models[name] = train_table(frame, **kwargs, **_table_options(config, seeds.get(name), len(frame), budget))
    for name in order:
        for enc in models[name].encoder_.encoders:  # keys of its own: new ones avoid the holdout's too
            if isinstance(enc, KeyEncoder) and enc.name in frames[name].columns:
                enc.fit(frames[name][enc.name], key_rng, protect=False)
        training["tables"][name] = models[name].training_
    training["seconds"] = round(time.monotonic() - t0, 2)
    g = RelationalGenerator(config, layouts, models, training)
    g.train_tables_, g.holdout_tables_ = train, holdout
    return g


def _model_inputs(layouts: dict[str, TableLayout], name: str, frame: pd.DataFrame,
                  declared: dict[str, Any], parent_frame: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Table ``name``'s model frame and the ``train_table`` options that follow from its
    layout (context columns, kinds; its parent's columns fitted once per parent, so that
    protection counts subjects: ``parent_frame`` is the parent's model frame)."""
    lay = layouts[name]
    # derived columns that are all null (no second events: no lags, no gaps) carry nothing,
    # and the flat engine cannot fit a numeric column without values
    frame = frame.drop(columns=[c for c in frame.columns if (c in lay.context or c == GAP) and frame[c].isna().all()])
    types = column_types(lay, layouts, declared)
    subjects = {c: v for c, v in parent_values(lay, parent_frame).items() if c in frame.columns}
    return frame, {"holdout_share": 0.0, "context_columns": [c for c in lay.context if c in frame.columns],
                   "types": {c: k for c, k in types.items() if c in frame.columns}, "subject_values": subjects}


def _table_options(config: RelationalConfig, seed: int | None, rows: int, budget: float | None) -> dict[str, Any]:
    """The flat options of one table's model: the run's, its seed and its time budget."""
    opts = dict(config.table_options)
    if budget:
        opts["max_training_time"] = max(budget, 20.0) if rows < SMALL_TABLE else budget  # tiny tables: let them converge
    if seed is not None:
        opts["seed"] = seed
    return opts


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
