"""The QA report: how close, how private and how useful is a synthetic table?

``report(synthetic, train, holdout)`` scores accuracy (binned 1-, 2- and 3-way
distributions), privacy (distances to the closest record, identical rows, the attack
suite of ``lookalike.privacy.attacks``), a
discriminator, optional ML utility, and association matrices; it returns a typed
``Metrics`` object and writes one self-contained HTML file (and optionally JSON).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_path, read_table
from .columns import check_columns, infer_columns
from .metrics import Metrics
from .scoring import Reference, score

__all__ = ["report", "Metrics"]

log = logging.getLogger(__name__)

PathOrFrame = pd.DataFrame | str | os.PathLike


def report(
    synthetic: PathOrFrame,
    train: PathOrFrame,
    holdout: PathOrFrame | None = None,
    target: str | None = None,
    out: str | os.PathLike | None = "report.html",
    json_out: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = False,
    title: str | None = None,
    model_sample: PathOrFrame | None = None,
    settings: dict[str, Any] | None = None,
    attacks: bool = True,
    types: dict[str, str] | None = None,
) -> Metrics:
    """Score ``synthetic`` against ``train`` (and the unseen ``holdout``) and write the report.

    ``holdout`` (rows of the same source never used for training) gives the reference
    accuracy, the DCR share and ML utility; without it those are omitted. ``target`` names
    a column to predict for ML utility. ``model_sample`` is the model's unconditional
    sample when ``synthetic`` was conditioned (seeded, imputed, rebalanced): the report
    then shows Model QA (model_sample vs train) beside Data QA (synthetic vs train).
    ``attacks`` runs the privacy attack suite (singling out, linkability, attribute and
    membership inference; needs the holdout as its control); ``attacks=False`` skips it.
    Free-text columns (kind ``text`` in ``types``, or in the training options' ``types``
    inside ``settings``, else as inferred) get a text section of their own.
    ``out=None`` writes no HTML; ``json_out`` writes the metrics as JSON. Same seed, same
    figures.
    """
    from .text import TextReference, text_columns
    from .utility import check_target

    started = time.perf_counter()
    for option, path in (("out", out), ("json_out", json_out)):
        _check_output(option, path)
    train_df = read_table(train, "train")
    synthetic_df = read_table(synthetic, "synthetic")
    holdout_df = read_table(holdout, "holdout") if holdout is not None else None
    model_df = read_table(model_sample, "model_sample") if model_sample is not None else None
    for name, df in (("synthetic", synthetic_df), ("holdout", holdout_df), ("model_sample", model_df)):
        if df is not None:
            check_columns(train_df, df, name)
    if target is not None:
        check_target(target, train_df)
    columns = infer_columns(train_df)
    cols = [c.name for c in columns]
    synthetic_df, model_df = synthetic_df[cols], (model_df[cols] if model_df is not None else None)
    holdout_df = holdout_df[cols] if holdout_df is not None else None

    rng = np.random.default_rng(seed)
    reference = Reference.build(train_df, holdout_df, columns, rng, progress)
    title = title or "Synthetic data QA report"
    rows = {"train": len(train_df), "synthetic": len(synthetic_df)}
    if holdout_df is not None:
        rows["holdout"] = len(holdout_df)
    t = time.perf_counter()
    if types is None and isinstance((settings or {}).get("types"), dict):
        types = settings["types"]  # the training options' overrides
    text_ref = TextReference.build(train_df, holdout_df, text_columns(train_df, types), seed)
    text_seconds = time.perf_counter() - t
    model_part = None
    if model_df is not None:
        rows["model_sample"] = len(model_df)
        log.info("scoring the model sample (Model QA)")
        model_part = score(model_df, reference, target, seed, rng, progress, title="Model QA", rows=rows,
                           attacks=attacks)
    log.info("scoring the synthetic table")
    data_part = score(synthetic_df, reference, target, seed, rng, progress, title=title, rows=rows, attacks=attacks)
    metrics = data_part.metrics
    for part in (data_part, model_part):
        if part is not None and text_ref is not None:
            t = time.perf_counter()
            part.metrics.text = text_ref.score(model_df if part is model_part else synthetic_df)
            part.metrics.timings.text = text_seconds + time.perf_counter() - t
    metrics.model = model_part.metrics if model_part is not None else None
    metrics.settings = _jsonable(dict(settings or {}))
    metrics.seed = seed

    if out is not None:
        from .html import render

        t = time.perf_counter()
        page = render(data_part, model_part, reference, metrics)
        metrics.timings.html = time.perf_counter() - t
        _write_text(out, page)
        log.info("wrote the QA report to %s", out)
    metrics.timings.total = time.perf_counter() - started
    if json_out is not None:
        _write_text(json_out, metrics.model_dump_json(indent=2))
    return metrics


def _check_output(option: str, path: str | os.PathLike | None) -> None:
    """Fail before any work when an output cannot be written."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} '{p}': is a folder; pass a file name such as {p / 'report.html'}")
    if not p.parent.exists():
        raise InputError(f"{option} '{p}': folder {p.parent} does not exist; create it first")


def _write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON-safe values (paths, enums, objects become text)."""
    import json

    return json.loads(json.dumps(settings, default=str))
