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
    include: list[str] | None = None,
    db_schema: str | None = None,
    overrides: object = None,
    ray: bool = False,
    ray_workers: int | None = None,
    ray_address: str | None = None,
    **options,
) -> Generator:
    """Train a synthesizer on one table (DataFrame, CSV or Parquet path), or on related
    tables: ``tables=[...]`` (specs), a YAML/JSON schema file, or a database URL
    (``postgresql://user@host/db``, ``sqlite:///shop.db``, ``duckdb:///shop.duckdb``).

    From a database, the tables (all, or ``include``; PostgreSQL's ``db_schema``, default
    public), their keys and column types come from its catalog; ``overrides`` (a schema
    file or specs) changes what it says for the tables it names. The model file remembers
    the tables' names, types and constraints (no values, never the URL), so generation can
    write the same tables back to a database.

    A share of the rows (``holdout_share``, default 10%, at most ``max_holdout_rows``) is
    kept aside and never trained on, for the QA report, unless ``holdout`` is given.
    Options are the fields of ``TrainConfig`` (``max_epochs``, ``max_training_time``,
    ``seed``, ``types``, ``max_training_rows``, ``device``, ...).

    ``ray=True`` (needs ``pip install 'lookalike[ray]'``; ``ray_address``: a cluster to join,
    default Ray started here): related tables' models train in parallel as Ray tasks; one
    table's model trains data-parallel on ``ray_workers`` Ray Train workers (PyTorch DDP),
    each on a shard of the rows, after this process has read and encoded the table (a
    Parquet folder or ``s3://``-style URI is read here through pyarrow). See README,
    "Scaling out".
    """
    from .db import database_kind, is_database_url
    from .io import is_dataset_uri

    if ray_address is not None and not ray:
        raise ConfigError("ray_address (--ray-address) needs ray=True (--ray)")
    if ray_workers is not None and not ray:
        raise ConfigError("ray_workers (--ray-workers) needs ray=True (--ray)")
    if isinstance(data, str) and "://" in data and not is_dataset_uri(data):
        database_kind(data)  # a URL of a database lookalike does not read: say which ones it does
    if is_database_url(data) and tables is None and holdout is None:  # a database is related tables
        data, tables = None, data
    if tables is not None and options.get("differential_privacy") not in (None, False):
        raise ConfigError("differential_privacy is not available for related tables yet (a person's rows in every "
                          "table would have to count as one); train one table at a time, or leave the option out")
    if tables is not None and ray_workers is not None:
        raise ConfigError("ray_workers is for one table's model (data-parallel workers); related tables train "
                          "one Ray task per table: leave ray_workers out")
    if tables is not None:  # related tables: a dict/list of table specs or a YAML/JSON schema file
        if ray:
            options.update(ray=ray, ray_address=ray_address)
        if data is not None or holdout is not None:
            raise ConfigError("pass either data (one table, with its holdout) or tables (related tables: the "
                              "holdout is a share of subjects, holdout_share), not both")
        from .relational import train_tables

        if is_database_url(tables):
            from .relational.spec import database_specs

            specs, file_options, source = database_specs(tables, include, db_schema, overrides)
            rg = train_tables(specs, **{**file_options, **options})
            rg.training_["source"] = source.to_json()
            return rg
        if include is not None or db_schema is not None or overrides is not None:
            raise ConfigError("include, db_schema and overrides apply to tables read from a database URL "
                              "(tables='sqlite:///shop.db'); for specs or a schema file, list the tables there")
        return train_tables(tables, **options)
    if data is None:
        raise ConfigError("nothing to train on: pass data (a table) or tables=[...] (related tables)")
    data_parallel = None
    if ray:  # the workers and Ray itself checked before any data is read
        from .distributed import DataParallel

        data_parallel = DataParallel(ray_workers, ray_address)
    return train_table(data, holdout=holdout, on_progress=on_progress, data_parallel=data_parallel, **options)


def load(path: str | os.PathLike[str], device: str = "auto") -> Generator:
    """Load a model file written by ``Generator.save`` (or ``lookalike train --out``)."""
    from .relational.artifact import FORMAT as RELATIONAL, model_format
    from .relational.generator import RelationalGenerator

    if model_format(path) == RELATIONAL:
        return RelationalGenerator.load(path, device=device)
    return Generator.load(path, device=device)
