"""``Generator``: a trained model with everything needed to generate, and nothing of the
training rows. Returned by ``lookalike.train`` and ``lookalike.load``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import __version__
from .artifact import network_of, read_model_file, table_parts, write_model_file
from .config import TrainConfig
from .encoding import TableEncoder
from .encoding.base import NULL
from .errors import ConfigError
from .io import TableWriter
from .model import TabularModel
from .controls import Controls, check_sampling, null_forbidden, rebalance_targets, seed_tokens, validate
from .sampling import fair_resample, marginal, sample_tokens
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


def _merge_seed(drawn: pd.Series, seed: pd.Series, known: np.ndarray) -> pd.Series:
    """The drawn column with the seed's known values put back exactly, in the drawn dtype
    when the seed's values fit it (else the column keeps the seed's values as given)."""
    merged = drawn.to_numpy(dtype=object, copy=True)
    merged[known] = seed.to_numpy(dtype=object)[known]
    out = pd.Series(merged, name=drawn.name)
    try:
        return out.astype(drawn.dtype)
    except (TypeError, ValueError) as exc:
        log.warning("column '%s': seed values kept as given, not as the model's %s (%s)", drawn.name, drawn.dtype, exc)
        return out.infer_objects()


class Generator:
    """A trained synthesizer. ``sample`` makes new rows; ``save`` writes the model file.

    Attributes ending in ``_`` are learned state: ``schema_``, ``encoder_``, ``model_``,
    ``config_``, ``training_`` (what happened during training), ``text_`` (the text model
    of the text columns, a ``lookalike.text.TextPart``, with ``text_model`` a
    ``lookalike.text.hf.PretrainedTextPart``, or None). ``holdout_`` and ``training_sample_``
    hold real rows for the QA report; they are never written into the model file.
    """

    def __init__(self, config: TrainConfig, schema: TableSchema, encoder: TableEncoder, model: TabularModel,
                 training: dict[str, Any] | None = None, text=None):
        self.config_ = config
        self.text_ = text
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
        seed_data: pd.DataFrame | str | os.PathLike[str] | None = None,
        impute: list[str] | None = None,
        rebalance: dict[str, dict[str, float]] | None = None,
        fairness: dict[str, Any] | None = None,
        out: str | os.PathLike[str] | None = None,
        progress: bool = False,
        workers: int = 1,
        shard_rows: int | None = None,
        ray: bool = False,
        ray_address: str | None = None,
    ) -> pd.DataFrame | Path:
        """Generate ``n`` synthetic rows (default: as many as the training data had).

        - ``seed_data``: a table with some columns filled; one row per seed row keeping
          its values, the other columns drawn from the model's conditional distribution.
        - ``impute``: columns that are never null in the output; their values are drawn
          given the row's other values.
        - ``rebalance``: ``{column: {category: share}}`` sets category shares; the other
          columns follow their conditional distribution given that column.
        - ``fairness``: ``{"target": col, "sensitive": [cols]}``: the target's distribution
          does not depend on the sensitive columns (statistical parity).
        - ``temperature`` < 1 gives more typical rows, > 1 more diverse; ``top_p`` < 1 draws
          only from the most likely values covering that probability mass.

        Returns a DataFrame, or, with ``out``, streams the rows to that CSV/Parquet file in
        batches (for outputs larger than memory) and returns its path.

        Scaling out: with ``out`` a folder (``"big/"``) the rows are cut into shards of
        ``shard_rows`` (default 100,000), written as ``part-00000.parquet``, ...;
        ``workers`` draws that many shards at a time in local processes, ``ray=True`` on a
        Ray cluster (``ray_address``, default: a local one). The rows depend on the seed and
        the shard layout only, not on the workers or machines (``lookalike.distributed``).
        """
        controls = validate(self.encoder_, seed_data, impute, rebalance, fairness)
        if controls.seed_data is not None:
            n = len(controls.seed_data)
        n = self.training_.get("rows", 1000) if n is None else n
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"number of rows must be a positive integer, got {n!r}")
        check_sampling(temperature, top_p)
        from .distributed import sharded

        if sharded(out, workers, shard_rows, ray, ray_address):
            from .distributed import generate_shards

            return generate_shards(self, int(n), controls, out, seed=seed, temperature=temperature, top_p=top_p,
                                   workers=workers, shard_rows=shard_rows, ray=ray, ray_address=ray_address,
                                   progress=progress)
        device = next(self.model_.parameters()).device
        gen = _torch_generator(seed, device)
        rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        batches = self.generate_batches(int(n), controls, gen, rng, temperature, top_p, progress)
        if out is not None:
            meta = {"lookalike_version": __version__, "rows": int(n), "seed": seed, "temperature": temperature,
                    "top_p": top_p, **controls.describe(), "model_training": self.training_}
            with TableWriter(out, metadata=meta) as w:
                for chunk in batches:
                    w.write(chunk)
            return w.path
        frames = list(batches)
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def generate_batches(self, n: int, controls: Controls, gen: torch.Generator, rng: np.random.Generator,
                         temperature: float = 1.0, top_p: float = 1.0, progress: bool = False,
                         first_row: int = 0) -> Iterator[pd.DataFrame]:
        """The one sampling path: ``n`` rows in batches of GENERATION_BATCH under validated
        ``controls``, drawn with ``gen`` (tokens) and ``rng`` (values inside tokens). ``sample``
        and related tables' generation (each table's model, its context given) both go here.
        ``first_row``: the rows' number in a larger output (a shard's), so keys continue it."""
        done = 0
        with tqdm(total=n, desc="generating", unit="row", disable=not progress, leave=False) as bar:
            while done < n:
                m = min(GENERATION_BATCH, n - done)
                yield self._generate(m, done, controls, gen, rng, temperature, top_p, first_row + done)
                done += m
                bar.update(m)

    def impute(self, data: pd.DataFrame | str | os.PathLike[str], columns: list[str] | None = None, *,
               seed: int | None = None, temperature: float = 1.0) -> pd.DataFrame:
        """Fill the nulls of a (real) table row by row: each missing value is drawn from the
        model's distribution given that row's known values. Known values stay as they are.
        ``columns`` limits which columns are filled (default: every modelled column)."""
        from .io import read_table

        df = read_table(data, "impute").reset_index(drop=True)
        if columns is None:
            columns = [c for c in self.encoder_.columns if self.encoder_.subs_of(c)]
        validate(self.encoder_, impute=columns)
        device = next(self.model_.parameters()).device
        gen = _torch_generator(seed, device)
        rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        out = df.copy()
        for start in range(0, len(df), GENERATION_BATCH):
            part = df.iloc[start : start + GENERATION_BATCH]
            fixed, mask = seed_tokens(self.encoder_, part)
            allowed = null_forbidden(self.encoder_.allowed(), [self.encoder_.subs_of(c)[0] for c in columns])
            tokens = sample_tokens(self.model_, len(part), allowed, gen, fixed, mask, temperature=temperature)
            filled = self.encoder_.decode(tokens, rng, start=start)
            if self.text_ is not None:
                from .text.sampling import fill_texts

                filled = fill_texts(filled, self.text_, self.encoder_, tokens, gen, temperature)
            for c in columns:
                if c not in out.columns:
                    continue
                gaps = part[c].isna().to_numpy()
                if gaps.any():
                    idx = part.index[gaps]
                    if out[c].isna().all() and out[c].dtype == object:
                        out[c] = out[c].astype(filled[c].dtype)
                    out.loc[idx, c] = filled[c].to_numpy()[gaps]
        return out

    def _generate(self, m: int, start: int, controls: Controls, gen: torch.Generator, rng: np.random.Generator,
                  temperature: float, top_p: float, row: int | None = None) -> pd.DataFrame:
        """One batch of ``m`` rows under the given controls: ``start`` is its place in the seed
        data, ``row`` (default ``start``) the number of its first row in the output (keys)."""
        enc, model = self.encoder_, self.model_
        allowed = enc.allowed()
        if controls.never_null:
            allowed = null_forbidden(allowed, [enc.subs_of(c)[0] for c in controls.never_null
                                               if c in enc.columns and enc.subs_of(c)])
        S = len(enc.subcolumns)
        fixed, mask = np.zeros((m, S), dtype=np.int64), np.zeros((m, S), dtype=bool)
        seed_part = None
        if controls.seed_data is not None:
            seed_part = controls.seed_data.iloc[start : start + m].reset_index(drop=True)
            fixed, mask = seed_tokens(enc, seed_part)
            for c in controls.given_nulls:
                if c in enc.columns and c in seed_part.columns:
                    mask[:, enc.subs_of(c)] = True  # a null here is a fact, not a gap
        for col, shares in controls.rebalance.items():
            sub = enc.subs_of(col)[0]
            target = rebalance_targets(enc, col, shares, marginal(model, sub, allowed[sub]))
            probs = torch.as_tensor(target, dtype=torch.float32, device=gen.device)
            draw = torch.multinomial(probs, m, replacement=True, generator=gen).cpu().numpy()
            free = ~mask[:, sub]
            fixed[free, sub] = draw[free]
            mask[:, sub] = True
        tokens = sample_tokens(model, m, allowed, gen, fixed, mask, temperature=temperature, top_p=top_p)
        if controls.impute:
            # only the gaps are redrawn, given the rest of the row: a value the model drew
            # comes from the joint distribution already, and keeping it avoids leaning on
            # the (harder to learn) conditional more than needed
            keep = np.ones((m, S), dtype=bool)
            for c in controls.impute:
                subs = enc.subs_of(c)
                gap = tokens[:, subs[0]] == NULL
                keep[:, subs] = mask[:, subs] | ~gap[:, None]  # values given in the seed stay
            firsts = [enc.subs_of(c)[0] for c in controls.impute]
            tokens = sample_tokens(model, m, null_forbidden(allowed, firsts), gen, tokens, keep,
                                   temperature=temperature, top_p=top_p)
        if controls.fairness:
            f = controls.fairness
            target = enc.subs_of(f["target"])[0]
            group_cols = [enc.subs_of(c)[0] for c in f["sensitive"] if enc.subs_of(c)]
            _, groups = np.unique(tokens[:, group_cols], axis=0, return_inverse=True)
            tokens = fair_resample(model, tokens, target, groups.reshape(-1), allowed[target], gen)
        df = enc.decode(tokens, rng, start=start if row is None else row)
        if self.text_ is not None:  # the texts, given each row's drawn columns
            from .text.sampling import fill_texts

            df = fill_texts(df, self.text_, enc, tokens, gen, temperature, top_p)
        if seed_part is not None:
            for col in seed_part.columns:
                if col in df.columns:  # seed values come back exactly, not re-decoded
                    known = seed_part[col].notna().to_numpy()
                    if known.any():
                        df[col] = _merge_seed(df[col], seed_part[col], known)
                else:
                    df[col] = seed_part[col].to_numpy()
        return df

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
        attacks: bool = True,
        **controls,
    ):
        """Sample ``n`` rows and write the QA report against the training rows and the
        holdout kept aside at training time (or the ``train``/``holdout`` passed here).
        ``attacks=False`` skips the privacy attack suite.

        Generation ``controls`` (``seed_data``, ``impute``, ``rebalance``, ``fairness``,
        ``temperature``, ``top_p``) shape the delivered data; the report then scores it
        (Data QA) beside the model's plain unconditional sample (Model QA)."""
        from .qa import report as qa_report

        train_df = train if train is not None else self._qa_table("train")
        holdout_df = holdout if holdout is not None else self._qa_table("holdout")
        if train_df is None:
            raise ConfigError(
                "this model has no QA data beside it (MODEL.qa-train.parquet); pass the training table: "
                "`lookalike report MODEL --train DATA`"
            )
        from .io import read_table

        # score the columns the model outputs (excluded columns are not generated)
        train_df = read_table(train_df, "train")
        train_df = train_df[[c for c in self.columns if c in train_df.columns]]
        if holdout_df is not None:
            holdout_df = read_table(holdout_df, "holdout")
            holdout_df = holdout_df[[c for c in self.columns if c in holdout_df.columns]]
        n = n or min(len(train_df), self.training_.get("rows", len(train_df)))
        synthetic = self.sample(n, seed=seed, progress=progress, **controls)
        model_sample = self.sample(n, seed=seed, progress=progress) if any(
            controls.get(k) is not None for k in ("seed_data", "impute", "rebalance", "fairness")) else None
        settings = {"training": self.training_, **self.config_.model_dump(mode="json"),
                    "generation": {k: v for k, v in controls.items() if k != "seed_data"}}
        return qa_report(synthetic, train_df, holdout=holdout_df, target=target, out=out, json_out=json_out,
                         seed=seed, progress=progress, settings=settings, model_sample=model_sample,
                         attacks=attacks)

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
                    "first_layer": self.model_.first_layer,
                    "own_details": self.model_.own_details,
                },
                "training": self.training_,
            },
            "config": self.config_.model_dump(mode="json"),
            "schema": self.schema_.model_dump(mode="json"),
            "encoders": self.encoder_.state(),
        }
        weights = self.model_.state_dict()
        if self.text_ is not None:
            parts["meta"]["text_model"] = self.text_.describe()
            weights.update({f"text.{k}": v for k, v in self.text_.state_dict().items()})
        written = write_model_file(path, parts, weights)
        self._path = written
        return written

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto") -> Generator:
        """Load a model file written by ``save``. The file is untrusted input: a damaged,
        tampered or foreign one raises ``ModelFileError`` naming what is wrong, before
        anything big is allocated."""
        parts, state = read_model_file(path)
        net = network_of(parts["meta"], path)
        config, schema, encoder = table_parts(parts, net, path)
        model = TabularModel(net.cardinalities, net.column_of_sub, size=net.size, first_layer=net.first_layer,
                             own_details=net.own_details)
        text = _load_text(parts["meta"], net, encoder, state, path)
        model.load_state_dict(state)  # shapes and names were checked against the network already
        model.to(pick_device(device)).eval()
        if text is not None:
            text.model.to(pick_device(device)).eval()
        training = parts["meta"].get("training", {})
        g = cls(config, schema, encoder, model, training if isinstance(training, dict) else {}, text=text)
        g._path = Path(path)
        return g


def _load_text(meta: dict[str, Any], net, encoder: TableEncoder, state: dict[str, torch.Tensor], path):
    """The text model of a model file (None: it has no text columns); its tensors leave ``state``."""
    from .artifact import check_text_network, text_network_of

    desc = text_network_of(meta, net, path)
    check_text_network(desc, encoder, path)
    if desc is None:
        return None
    if getattr(desc, "kind", None) == "pretrained":  # a fine-tuned Hugging Face model (``text/hf.py``)
        from .text.hf import load_part

        return load_part(desc, state, path)
    from .text import TextPart
    from .text.model import TextModel, TextVocab

    vocab = TextVocab.of([encoder.encoder(c).vocab_ for c in desc.columns])
    model = TextModel(desc.context_cardinalities, desc.vocab_size, len(desc.columns), embed=desc.embed,
                      hidden=desc.hidden, layers=desc.layers, head_rank=desc.head_rank, room=desc.room)
    model.load_state_dict({k[len("text."):]: state.pop(k) for k in [k for k in state if k.startswith("text.")]})
    return TextPart(desc.columns, vocab, model, desc.replay_key, desc.replay)


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
