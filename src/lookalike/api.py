"""``lookalike.train`` and ``lookalike.load``: the doors every interface goes through."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from pydantic import ValidationError

from . import model as network
from .config import TrainConfig
from .encoding import TableEncoder
from .errors import ConfigError
from .generator import Generator, training_summary
from .io import read_table
from .model import TabularModel
from .schema import infer_schema
from .training import TrainProgress, compact, fit

log = logging.getLogger(__name__)

MAX_TRAINING_SAMPLE_FOR_QA = 50_000


def make_config(options: dict) -> TrainConfig:
    """Validate training options once, at the door, with a readable error."""
    try:
        return TrainConfig(**options)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = ".".join(str(x) for x in e["loc"]) or "options"
            if e["type"] == "extra_forbidden":
                known = ", ".join(TrainConfig.model_fields)
                problems.append(f"unknown option '{field}'; known options: {known}")
            else:
                problems.append(f"option '{field}': {e['msg']} (got {e.get('input')!r})")
        raise ConfigError("; ".join(problems)) from None


def train(
    data: pd.DataFrame | str | os.PathLike[str] | None = None,
    *,
    holdout: pd.DataFrame | str | os.PathLike[str] | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    tables: object = None,
    **options,
) -> Generator:
    """Train a synthesizer on one table (DataFrame, CSV or Parquet path).

    A share of the rows (``holdout_share``, default 10%, at most ``max_holdout_rows``) is
    kept aside and never trained on, for the QA report, unless ``holdout`` is given.
    Options are the fields of ``TrainConfig`` (``max_epochs``, ``max_training_time``,
    ``seed``, ``types``, ``max_training_rows``, ``device``, ...).
    """
    if tables is not None:  # related tables: a dict/list of table specs or a YAML/JSON schema file
        if data is not None:
            raise ConfigError("pass either data (one table) or tables (related tables), not both")
        from .relational import train_tables

        return train_tables(tables, **options)
    if data is None:
        raise ConfigError("nothing to train on: pass data (a table) or tables=[...] (related tables)")
    config = make_config(options)
    t0 = time.monotonic()
    df = read_table(data, "data")
    schema = infer_schema(df, config.types, name="data")
    rng = np.random.default_rng(config.seed)

    everyone = df  # every real row, holdout included: new keys avoid all of theirs
    if holdout is not None:
        hold = read_table(holdout, "holdout")
        missing = [c for c in df.columns if c not in hold.columns]
        if missing:
            raise ConfigError(f"holdout lacks column(s) {missing} of the training data; pass a holdout with the same columns")
        hold = hold[list(df.columns)]
        keys = [c.name for c in schema.columns if c.kind == "key"]  # only their values are needed
        everyone = pd.concat([df[keys], hold[keys]], ignore_index=True)
    else:
        n_hold = min(int(len(df) * config.holdout_share), config.max_holdout_rows) if len(df) >= 50 else 0
        idx = rng.permutation(len(df))
        hold, df = df.iloc[idx[:n_hold]].reset_index(drop=True), df.iloc[idx[n_hold:]].reset_index(drop=True)
    if config.max_training_rows and len(df) > config.max_training_rows:
        df = df.iloc[np.sort(rng.choice(len(df), config.max_training_rows, replace=False))].reset_index(drop=True)

    unknown = [c for c in config.context_columns if c not in df.columns]
    if unknown:
        raise ConfigError(f"context_columns: unknown column(s) {unknown}; the table's columns are {list(df.columns)}")
    encoder = TableEncoder.fit(df, schema, rng, config, key_rows=everyone)
    context = [encoder.columns.index(c) for c in config.context_columns if c in encoder.columns]
    tokens = compact(encoder.encode(df))
    seed = int(rng.integers(2**62)) if config.seed is not None else None
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        gen = torch.Generator()
        gen.manual_seed(seed) if seed is not None else gen.seed()
        model = TabularModel(encoder.cardinalities, encoder.column_of_sub, size=config.model_size,
                             first_layer=network.first_layer_for(len(encoder.cardinalities), network.DEFAULT_FIRST_LAYER))
        if tokens.shape[1] == 0:
            from .training import TrainResult, pick_device

            result = TrainResult(0, 0, 0.0, 0.0, "nothing_to_learn", pick_device(config.device).type)
        else:
            result = fit(model, tokens, config, gen, on_progress, context=context, spent=time.monotonic() - t0)
    g = Generator(config, schema, encoder, model, training_summary(result, len(df), time.monotonic() - t0))
    g.holdout_ = hold if len(hold) else None
    g.training_sample_ = df if len(df) <= MAX_TRAINING_SAMPLE_FOR_QA else df.sample(
        MAX_TRAINING_SAMPLE_FOR_QA, random_state=np.random.RandomState(0))
    return g


def load(path: str | os.PathLike[str], device: str = "auto") -> Generator:
    """Load a model file written by ``Generator.save`` (or ``lookalike train --out``)."""
    from .relational.generator import FORMAT as RELATIONAL, RelationalGenerator, model_format

    if model_format(path) == RELATIONAL:
        return RelationalGenerator.load(path, device=device)
    return Generator.load(path, device=device)
