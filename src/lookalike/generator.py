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

    # --- persistence ----------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file (no training rows in it)."""
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
        return write_model_file(path, parts, self.model_.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto") -> Generator:
        parts, state = read_model_file(path)
        m = parts["meta"]["model"]
        model = TabularModel(m["cardinalities"], m["column_of_sub"], size=m["size"])
        model.load_state_dict(state)
        model.to(pick_device(device)).eval()
        return cls(
            TrainConfig.model_validate(parts["config"]),
            TableSchema.model_validate(parts["schema"]),
            TableEncoder.from_state(parts["encoders"]),
            model,
            parts["meta"].get("training", {}),
        )


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
