"""``RelationalGenerator``: one flat model per table, generated parent-first.

What it does is done elsewhere, one job per module: training in ``training.py``,
generation in ``sampling.py``, the model file in ``artifact.py``, writing the tables in
``writer.py``, the QA in ``qa.py``; this class is the handle a user holds.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..controls import check_sampling
from ..errors import ConfigError
from ..generator import Generator
from ..io import atomic_path
from .artifact import read_model, write_model
from .config import RelationalConfig
from .layout import TableLayout, generation_order_from
from .sampling import TableSampler
from .writer import DATABASE_SUFFIXES, write_tables

log = logging.getLogger(__name__)


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
               steps: int = 1, temperature: float = 1.0, top_p: float = 1.0,
               replace: bool = False, workers: int = 1, shard_rows: int | None = None, ray: bool = False,
               ray_address: str | None = None, progress: bool = False) -> dict[str, pd.DataFrame] | Path:
        """Generate every table. ``size={"users": 10000}`` sets subject (root) tables' row
        counts (default: the input's); children follow from the model. ``out``: a folder
        (one CSV per table; ``DIR/*.parquet`` style via ``out="dir?format=parquet"`` is not
        needed: pass a folder ending in ``.parquet`` to get Parquet), a ``.sqlite`` file, or a
        database URL (``postgresql://…/shop_synth``, ``sqlite:///synth.db``,
        ``duckdb:///synth.duckdb``): tables with the source's types and keys, written in one
        transaction; tables already there are refused unless ``replace=True``.

        ``continue_from={"users": df, "purchases": df}``: real subjects with their history;
        returns the next ``steps`` events of each subject for every child table given.

        ``temperature`` and ``top_p`` act on every table's model as in ``Generator.sample``;
        the same ``seed`` gives the same tables.

        Scaling out (``workers``, ``shard_rows``, ``ray``, ``ray_address``; see README "Scaling
        out"): ``out`` is a folder with one Parquet dataset per table
        (``out/<table>/part-00000.parquet``, ...); shards of about ``shard_rows`` subjects,
        each with its whole history, are drawn by local processes or Ray tasks, keys unique
        across shards. Returns the folder.
        """
        check_sampling(temperature, top_p)
        if ray or workers != 1 or shard_rows is not None or ray_address is not None:
            if continue_from is not None:
                raise ConfigError("continue_from is drawn in one process; leave out workers, shard_rows and ray")
            return self._sample_shards(self._sizes(size), out, seed=seed, temperature=temperature, top_p=top_p,
                                       workers=workers, shard_rows=shard_rows, ray=ray, ray_address=ray_address,
                                       progress=progress)
        if continue_from is not None:
            return TableSampler(self.layouts_, self.models_).continue_from(continue_from, steps, seed, temperature, top_p)
        size = self._sizes(size)
        from ..db import check_target, is_database_url

        if is_database_url(out):  # unreachable, or tables already there: say so before generating
            check_target(str(out), self.tables, replace)
        outputs = TableSampler(self.layouts_, self.models_).generate(size, seed, temperature, top_p)
        if out is not None:
            write_tables(outputs, out, layouts=self.layouts_, source=self.source_, replace=replace)
        return outputs

    def _sample_shards(self, sizes: dict[str, int], out, **options) -> Path:
        """Every table into the folder ``out`` in shards of subjects (``shards.py``)."""
        from ..db import is_database_url
        from ..distributed import sharded
        from .shards import generate_table_shards

        if out is not None and (is_database_url(out) or Path(out).suffix.lower() in DATABASE_SUFFIXES):
            raise ConfigError(f"out '{out}': workers, shard rows and Ray write a folder with one Parquet dataset per "
                              "table; pass a folder such as out='synth/'")
        sharded(out, options["workers"], options["shard_rows"], options["ray"], options["ray_address"])  # checks them
        roots = {n: int(sizes.get(n, lay.rows)) for n, lay in self.layouts_.items() if lay.parent is None}
        return generate_table_shards(self, roots, out, **options)

    def _sizes(self, size: dict[str, int] | None) -> dict[str, int]:
        """``size`` checked: subject tables only, positive row counts."""
        size = dict(size or {})
        for name, n in size.items():
            if name not in self.layouts_:
                raise ConfigError(f"size: unknown table '{name}'; tables are {self.tables}")
            if self.layouts_[name].parent is not None:
                raise ConfigError(f"size: table '{name}' is a child of '{self.layouts_[name].parent}'; its size follows "
                                  f"from the model; set the size of '{self._root(name)}' instead")
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"size: table '{name}': expected a positive number of rows, got {n!r}")
        return size

    @property
    def source_(self) -> dict[str, Any] | None:
        """What the source database's catalog declared (tables, column types, keys), when the
        model was trained on a database; never values or credentials."""
        return self.training_.get("source")

    def _root(self, name: str) -> str:
        while self.layouts_[name].parent is not None:
            name = self.layouts_[name].parent
        return name

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
        """One zip: meta.json (layouts, config, training summary) and one flat model file per
        table; the real rows kept for QA go beside it (``_save_qa_tables``)."""
        from ..generator import check_model_path

        path = check_model_path(path)
        self._save_qa_tables(path)
        return write_model(path, self.config_, self.layouts_, self.models_, self.training_)

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
        config, layouts, models, training = read_model(path, device)
        g = cls(config, layouts, models, training)
        g._path = Path(path)
        return g
