"""``Generator``: a trained model with everything needed to generate, and nothing of the
training rows. Returned by ``lookalike.train`` and ``lookalike.load``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import __version__
from .artifact import read_model_file, write_model_file
from .config import TrainConfig
from .encoding import TableEncoder
from .errors import ConfigError
from .io import TableWriter
from .model import TabularModel
from .sampling import sample_tokens
from .schema import TableSchema
from .training import TrainResult, pick_device

log = logging.getLogger(__name__)

GENERATION_BATCH = 20_000


def _torch_generator(seed: int | None, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


class Generator:
    """A trained synthesizer. ``sample`` makes new rows; ``save`` writes the model file.

    Attributes ending in ``_`` are learned state: ``schema_``, ``encoder_``, ``model_``,
    ``config_``, ``training_`` (what happened during training). ``holdout_`` and
    ``training_sample_`` hold real rows for the QA report; they are never written into
    the model file.
    """

    def __init__(self, config: TrainConfig, schema: TableSchema, encoder: TableEncoder, model: TabularModel,
                 training: dict[str, Any] | None = None):
        self.config_ = config
        self.schema_ = schema
        self.encoder_ = encoder
        self.model_ = model
        self.training_ = training or {}
        self.holdout_: pd.DataFrame | None = None
        self.training_sample_: pd.DataFrame | None = None
        self._path: Path | None = None

    @property
    def columns(self) -> list[str]:
        """Output columns, in the input's order."""
        return self.encoder_.columns

    def __repr__(self) -> str:
        return f"<lookalike.Generator: {len(self.columns)} columns, {self.training_.get('rows', '?')} training rows>"

    # --- generation -----------------------------------------------------------------
    def sample(
        self,
        n: int | None = None,
        *,
        seed: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        out: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> pd.DataFrame | Path:
        """Generate ``n`` synthetic rows (default: as many as the training data had).

        Returns a DataFrame, or, with ``out``, streams the rows to that CSV/Parquet file in
        batches (for outputs larger than memory) and returns its path.
        """
        n = self.training_.get("rows", 1000) if n is None else n
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"number of rows must be a positive integer, got {n!r}")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {top_p}")
        device = next(self.model_.parameters()).device
        gen = _torch_generator(seed, device)
        rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        allowed = self.encoder_.allowed()

        def batches():
            done = 0
            with tqdm(total=int(n), desc="generating", unit="row", disable=not progress, leave=False) as bar:
                while done < n:
                    m = min(GENERATION_BATCH, n - done)
                    tokens = sample_tokens(self.model_, m, allowed, gen, temperature=temperature, top_p=top_p)
                    yield self.encoder_.decode(tokens, rng, start=done)
                    done += m
                    bar.update(m)

        if out is not None:
            with TableWriter(out) as w:
                for chunk in batches():
                    w.write(chunk)
            return w.path
        frames = list(batches())
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    # --- QA -------------------------------------------------------------------------
    def report(
        self,
        out: str | os.PathLike[str] | None = "report.html",
        *,
        n: int | None = None,
        target: str | None = None,
        seed: int = 0,
        json_out: str | os.PathLike[str] | None = None,
        progress: bool = False,
        train: pd.DataFrame | str | os.PathLike[str] | None = None,
        holdout: pd.DataFrame | str | os.PathLike[str] | None = None,
    ):
        """Sample ``n`` rows and write the QA report against the training rows and the
        holdout kept aside at training time (or the ``train``/``holdout`` passed here)."""
        from .qa import report as qa_report

        train_df = train if train is not None else self._qa_table("train")
        holdout_df = holdout if holdout is not None else self._qa_table("holdout")
        if train_df is None:
            raise ConfigError(
                "this model has no QA data beside it (MODEL.qa-train.parquet); pass the training table: "
                "`lookalike report MODEL --train DATA`"
            )
        if not isinstance(train_df, pd.DataFrame):
            from .io import read_table

            train_df = read_table(train_df, "train")
        n = n or min(len(train_df), self.training_.get("rows", len(train_df)))
        synthetic = self.sample(n, seed=seed, progress=progress)
        settings = {"training": self.training_, **self.config_.model_dump(mode="json")}
        return qa_report(synthetic, train_df, holdout=holdout_df, target=target, out=out, json_out=json_out,
                         seed=seed, progress=progress, settings=settings)

    def _qa_table(self, which: str) -> pd.DataFrame | None:
        attr = "training_sample_" if which == "train" else "holdout_"
        if getattr(self, attr) is None and self._path is not None:
            side = qa_sidecar(self._path, which)
            if side.exists():
                setattr(self, attr, pd.read_parquet(side))
        return getattr(self, attr)

    # --- persistence ----------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file (no training rows in it). The rows kept for the QA report
        (a training sample and the holdout) go to separate files beside it,
        ``MODEL.qa-train.parquet`` and ``MODEL.qa-holdout.parquet``."""
        path = check_model_path(path)
        for which, df in (("train", self.training_sample_), ("holdout", self.holdout_)):
            if df is not None:
                from .io import write_table

                write_table(df, qa_sidecar(path, which))
        parts = {
            "meta": {
                "lookalike_version": __version__,
                "model": {
                    "cardinalities": self.model_.cardinalities,
                    "column_of_sub": self.model_.column_of_sub,
                    "size": self.config_.model_size,
                },
                "training": self.training_,
            },
            "config": self.config_.model_dump(mode="json"),
            "schema": self.schema_.model_dump(mode="json"),
            "encoders": self.encoder_.state(),
        }
        written = write_model_file(path, parts, self.model_.state_dict())
        self._path = written
        return written

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto") -> Generator:
        parts, state = read_model_file(path)
        m = parts["meta"]["model"]
        model = TabularModel(m["cardinalities"], m["column_of_sub"], size=m["size"])
        model.load_state_dict(state)
        model.to(pick_device(device)).eval()
        g = cls(
            TrainConfig.model_validate(parts["config"]),
            TableSchema.model_validate(parts["schema"]),
            TableEncoder.from_state(parts["encoders"]),
            model,
            parts["meta"].get("training", {}),
        )
        g._path = Path(path)
        return g


def qa_sidecar(model_path: str | os.PathLike[str], which: str) -> Path:
    p = Path(model_path)
    return p.with_name(f"{p.name}.qa-{which}.parquet")


def check_model_path(path: str | os.PathLike[str]) -> Path:
    """Validate where a model file will go before any training happens."""
    from .errors import ModelFileError

    p = Path(path)
    if p.is_dir():
        raise ModelFileError(f"model path '{p}' is a directory; pass a file name such as {p / 'model.lookalike'}")
    if not p.parent.exists():
        raise ModelFileError(f"model path '{p}': folder {p.parent} does not exist; create it first")
    return p


def training_summary(result: TrainResult, rows: int, seconds_total: float) -> dict[str, Any]:
    return {
        "rows": rows,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "val_loss": round(result.best_val_loss, 5),
        "seconds": round(seconds_total, 2),
        "stopped_by": result.stopped_by,
        "device": result.device,
    }
