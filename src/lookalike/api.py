"""``lookalike.train`` and ``lookalike.load``: the doors every interface goes through."""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd

from .errors import ConfigError
from .generator import Generator
from .table import train_table
from .training import TrainProgress


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
        if data is not None or holdout is not None:
            raise ConfigError("pass either data (one table, with its holdout) or tables (related tables: the "
                              "holdout is a share of subjects, holdout_share), not both")
        from .relational import train_tables

        return train_tables(tables, **options)
    if data is None:
        raise ConfigError("nothing to train on: pass data (a table) or tables=[...] (related tables)")
    return train_table(data, holdout=holdout, on_progress=on_progress, **options)


def load(path: str | os.PathLike[str], device: str = "auto") -> Generator:
    """Load a model file written by ``Generator.save`` (or ``lookalike train --out``)."""
    from .relational.artifact import FORMAT as RELATIONAL, model_format
    from .relational.generator import RelationalGenerator

    if model_format(path) == RELATIONAL:
        return RelationalGenerator.load(path, device=device)
    return Generator.load(path, device=device)
