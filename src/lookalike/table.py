"""One table, straight down: read -> schema -> encode -> train. ``lookalike.train`` comes
here for a single table, and related tables train each table's model here too."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from . import model as network
from .calibration import calibrate, rake
from .config import make_config
from .encoding import TableEncoder, dp_weights
from .encoding.text import TextEncoder
from .errors import ConfigError
from .generator import Generator, training_summary
from .io import read_table
from .model import TabularModel
from .schema import infer_schema
from .training import TrainProgress, compact, fit

if TYPE_CHECKING:  # pragma: no cover
    from .distributed import DataParallel

MAX_TRAINING_SAMPLE_FOR_QA = 50_000


def train_table(
    data: pd.DataFrame | str | os.PathLike[str],
    *,
    holdout: pd.DataFrame | str | os.PathLike[str] | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    subject_values: dict[str, pd.Series] | None = None,
    data_parallel: DataParallel | None = None,
    **options,
) -> Generator:
    """Train a synthesizer on one table; see ``lookalike.train``. ``subject_values``: see
    ``TableEncoder.fit`` (related tables' children). ``data_parallel``: the flat model trains
    on Ray Train workers (``distributed.fit_on_ray``); reading, encoding, calibration and a
    text model stay in this process."""
    config = make_config(options)
    if data_parallel is not None and config.differential_privacy is not None:
        raise ConfigError("differential_privacy does not train data-parallel (ray=True): DP-SGD's accounting "
                          "follows one process's steps; leave out one of them")
    if config.text_model is not None:  # a pretrained text model: fail before reading any data
        from .text.hf import check_text_model

        check_text_model(config.text_model)
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
    plan = None
    if config.differential_privacy is not None:
        from .privacy.dp import check_available, plan_dp

        check_available()
        schema = schema.model_copy(update={"columns": [c.model_copy(update={"n_unique": 0}) for c in schema.columns]})
        weights, selection = dp_weights(schema)
        plan = plan_dp(config.differential_privacy, weights, selection, len(df), rng.spawn(1)[0])
    encoder = TableEncoder.fit(df, schema, rng, config, key_rows=everyone, dp=plan.counts if plan else None,
                               subject_values=subject_values)
    context = [encoder.columns.index(c) for c in config.context_columns if c in encoder.columns]
    tokens = compact(encoder.encode(df))
    has_text = any(isinstance(e, TextEncoder) for e in encoder.encoders)
    flat_config = config  # with text columns, the flat model leaves the text model its share of the time
    if has_text and config.max_training_time is not None:
        flat_config = config.model_copy(update={"max_training_time": config.max_training_time * (1 - config.text_training_share)})
    seed = int(rng.integers(2**62)) if config.seed is not None else None
    parallel = None  # what fit_on_ray records of a data-parallel run
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        gen = torch.Generator()
        gen.manual_seed(seed) if seed is not None else gen.seed()
        model = TabularModel(encoder.cardinalities, encoder.column_of_sub, size=config.model_size,
                             first_layer=network.first_layer_for(len(encoder.cardinalities), network.DEFAULT_FIRST_LAYER),
                             own_details=encoder.own_detail_subs)
        model.init_ordinal(encoder.token_positions(),
                           encoder.dp_marginals() if config.differential_privacy else
                           [np.bincount(tokens[:, i], minlength=c) for i, c in enumerate(encoder.cardinalities)])
        if not config.differential_privacy:  # DP rakes to its noisy counts of every row's tokens
            model.set_detail_rows(encoder.detail_applies())
        if tokens.shape[1] == 0:
            from .training import TrainResult, pick_device

            result = TrainResult(0, 0, 0.0, 0.0, "nothing_to_learn", pick_device(config.device).type)
            if plan is not None:
                plan.finish(0)
        elif plan is not None:
            from .privacy.dp import calibrate_training, fit_dp, init_marginals_dp

            calibrate_training(plan, config.batch_size)
            init_marginals_dp(model, encoder.dp_marginals())
            result = fit_dp(model, tokens, config, gen, plan, on_progress, context=context, spent=time.monotonic() - t0)
            if not context:  # the marginals are those of plain generation (context columns are given)
                rake(model, encoder.dp_marginals(), encoder.allowed(), gen)
        else:
            if data_parallel is not None:  # the same loop in every worker, each on its shard of the rows
                from .distributed import fit_on_ray

                result, parallel = fit_on_ray(model, tokens, flat_config, gen, on_progress, context=context,
                                              spent=time.monotonic() - t0, plan=data_parallel)
            else:
                result = fit(model, tokens, flat_config, gen, on_progress, context=context, spent=time.monotonic() - t0)
            calibrate(model, tokens, encoder.allowed(), gen, context)  # the marginals back (calibration.py)
    summary = training_summary(result, len(df), time.monotonic() - t0)
    if result.heads_stopped:  # columns whose heads stopped before the rest (training.HeadStopping)
        early: dict[str, int] = {}
        for sub, epoch in sorted(result.heads_stopped.items()):
            column = encoder.columns[encoder.column_of_sub[sub]]
            early[column] = min(epoch, early.get(column, epoch))
        summary["columns_stopped_early"] = early
    if parallel is not None:
        summary["data_parallel"] = parallel
    if plan is not None:  # the exact row count and a validation loss would be outside the accounting
        summary.update(rows=int(round(plan.counts.rows)), val_loss=None, differential_privacy=plan.summary())
    text = None
    if has_text:  # then the texts, given each row's flat tokens
        if config.text_model is not None:  # a local Hugging Face model, fine-tuned (``text/hf.py``)
            from .text.hf import train_pretrained_text as train_text
        else:
            from .text.training import train_text

        left = None if config.max_training_time is None else config.max_training_time - (time.monotonic() - t0)
        text_seed = None if config.seed is None else int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])
        text, summary["text"] = train_text(encoder, df, tokens, config, text_seed, left)
        summary["seconds"] = round(time.monotonic() - t0, 2)
    g = Generator(config, schema, encoder, model, summary, text=text)
    g.holdout_ = hold if len(hold) else None
    g.training_sample_ = df if len(df) <= MAX_TRAINING_SAMPLE_FOR_QA else df.sample(
        MAX_TRAINING_SAMPLE_FOR_QA, random_state=np.random.RandomState(0))
    return g


