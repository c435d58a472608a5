"""Text columns written by a pretrained Hugging Face causal language model
(``text_model="PATH"``, the ``text-hf`` extra): the model of a local folder is fine-tuned on
the table's texts, each row read as a short prompt of its other columns,

    <bos>room_type: Private room | price: 45 | title (20-26 characters): Cosy room near the park<eos>
         | host_name (3 characters): Ann<eos>

so each text column is written given the row and the text columns before it. The loss
counts only the texts and their end marks. As with the built-in model (``model.py``), the
flat model draws whether a text is null and its length bucket, and the text keeps to it;
each column writes only tokens that at least MIN_ROWS_PER_CHAR of its training texts used
(with rare-category protection), so its vocabulary and characters are the column's.

The model file keeps the fine-tuned weights (float32, tied weights once), the model's
config and the tokenizer's files: generation needs neither the folder nor a network.
Nothing is ever downloaded (``local_files_only``; no remote code)."""

from __future__ import annotations

import base64
import inspect
import logging
import math
import os
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..config import TrainConfig
from ..encoding import TableEncoder
from ..encoding.base import NULL
from ..encoding.text import MIN_ROWS_PER_CHAR, TextEncoder
from ..errors import ConfigError, ModelFileError
from ..sampling import _draw, _top_p_filter
from . import replay_hash

log = logging.getLogger(__name__)

INSTALL = "pip install 'lookalike[text-hf]'"
SEPARATOR = " | "  # between a prompt's columns
MAX_PROMPT_VALUE = 40  # characters of one column's value in the prompt
MAX_PROMPT_CHARS = 400  # of the row's other columns, at most (the texts' columns come after)
BATCH_ROWS = 16  # rows per fine-tuning step
# fine-tuning's learning rate: LR_WIDTH / the model's width, at most MAX_LEARNING_RATE (GPT-2's
# 768: 2e-4; a 4096-wide 7B model: 4e-5; a tiny 32-wide test model: 3e-3)
LR_WIDTH, MAX_LEARNING_RATE = 0.15, 3e-3
WARMUP_STEPS = 20
GRAD_CLIP = 1.0
PATIENCE = 2  # epochs without validation improvement
VAL_SHARE, MAX_VAL_ROWS = 0.1, 1_000
MAX_TIME_SHARE = 2 / 3  # of max_training_time, the text model's budget at most (as the built-in one's)
TIME_MARGIN = 0.05
REPLAY_MIN_UNIQUE_SHARE = 0.5  # never-replay applies to columns whose texts are mostly unique
GENERATION_ROWS = 128  # rows written at once
MAX_TOKENIZER_BYTES = 64 * 2**20  # all tokenizer files in a model file
MAX_LAYERS = 1_000  # of a model file's text model (checked before it is built, even on the meta device)
_DEPTH_KEYS = ("n_layer", "num_hidden_layers", "num_layers")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def _transformers(what: str, error: type[Exception] = ConfigError):
    """The transformers package, or an ``error`` saying how to get it."""
    try:
        import transformers
    except ImportError:
        raise error(f"{what} needs Hugging Face transformers: {INSTALL} (or pip install transformers)") from None
    return transformers


def check_text_model(path: str) -> Path:
    """The ``text_model`` option's folder, checked before any data is read: transformers is
    installed and the folder holds a Hugging Face model (config.json)."""
    _transformers(f"text_model={path!r}")
    p = Path(path).expanduser()
    if not p.is_dir() or not (p / "config.json").is_file():
        why = "does not exist" if not p.exists() else "is not a folder" if not p.is_dir() else "has no config.json"
        raise ConfigError(f"text_model: '{path}' {why}; pass the folder of a Hugging Face causal language model "
                          "saved with save_pretrained (config.json, weights, tokenizer files; nothing is downloaded), "
                          "or leave text_model out for the built-in text model")
    return p


def load_pretrained(path: str):
    """(model, tokenizer) of a local folder, in float32; never downloads, never runs remote code."""
    transformers = _transformers(f"text_model={path!r}")
    p = check_text_model(path)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(p, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(p, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = " ".join(str(exc).split())[:300]
        raise ConfigError(f"text_model: '{path}' does not load as a causal language model with its tokenizer "
                          f"({exc.__class__.__name__}: {msg}); pass a folder written by save_pretrained of "
                          "AutoModelForCausalLM and AutoTokenizer") from None
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"text_model: the tokenizer of '{path}' has no end-of-text token (eos_token); "
                          "set one in its tokenizer_config.json")
    return model.float(), tokenizer


# --- the part of a Generator ---------------------------------------------------------------
@dataclass
class PretrainedTextPart:
    """A table's text columns written by a fine-tuned causal LM: its ``columns`` (in table
    order), the flat columns of its prompts (``prompt_columns``), the ``model`` and its
    ``tokenizer``, per column the token ids it may write (``allowed``), and (with
    ``text_never_replay``) keyed hashes of training texts not to write."""

    kind = "pretrained"
    columns: list[str]
    prompt_columns: list[str]
    model: Any
    tokenizer: Any
    allowed: dict[str, list[int]]
    source: str = ""
    replay_key: str = ""
    replay: dict[str, list[int]] = field(default_factory=dict)
    _tokens: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, init=False, repr=False,
                                                                  compare=False)  # per column: ids, lengths

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    def describe(self) -> dict[str, Any]:
        """What meta.json keeps ("text_model"): enough to rebuild the model and tokenizer."""
        from ..artifact import TEXT_FORMAT

        return {"kind": self.kind, "text_format": TEXT_FORMAT, "columns": self.columns,
                "prompt_columns": self.prompt_columns, "architecture": self.architecture, "source": self.source,
                "hf_config": self.model.config.to_dict(), "tokenizer_files": _tokenizer_files(self.tokenizer),
                "allowed": self.allowed, "replay_key": self.replay_key, "replay": self.replay}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights the model file keeps: floating-point tensors, tied ones once."""
        return {k: v.detach().float() for k, v in _saved_tensors(self.model).items()}

    def about(self, encoder: TableEncoder) -> dict[str, Any]:
        """What ``lookalike info`` shows."""
        n = sum(p.numel() for p in self.model.parameters())
        return {"model": f"pretrained {self.architecture} (fine-tuned; from {self.source or 'a local folder'})",
                "columns": {c: {**encoder.encoder(c).describe(), "tokens": len(self.allowed.get(c, []))}
                            for c in self.columns},
                "prompt_columns": self.prompt_columns, "parameters": n, "vocab_size": len(self.tokenizer),
                "never_replay": sorted(self.replay)}

    # --- writing texts ---------------------------------------------------------------
    def fill(self, df: pd.DataFrame, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
             temperature: float = 1.0, top_p: float = 1.0) -> pd.DataFrame:
        """``df`` (decoded flat columns, text columns empty) with its texts written in place."""
        texts = self.write(df, encoder, tokens, gen, temperature, top_p)
        for col, values in texts.items():
            s = pd.Series(values, name=col, dtype=object, index=df.index)
            df[col] = s.astype(df[col].dtype) if df[col].dtype != object else s
        return df

    def write(self, df: pd.DataFrame, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
              temperature: float = 1.0, top_p: float = 1.0) -> dict[str, list[str | None]]:
        """The texts of rows ``df`` (flat tokens [n, S]), per text column; with never-replay a
        row whose text equals a training text is redrawn (its texts), up to 5 times."""
        out = self._write(df, encoder, tokens, gen, temperature, top_p)
        for _ in range(5):
            again = np.zeros(len(df), dtype=bool)
            for col, hashes in self.replay.items():
                seen = set(hashes)
                again |= np.array([t is not None and replay_hash(t, self.replay_key) in seen for t in out[col]], bool)
            if not again.any():
                break
            rows = np.flatnonzero(again)
            redrawn = self._write(df.iloc[rows], encoder, tokens[rows], gen, temperature, top_p)
            for col in out:
                for r, t in zip(rows, redrawn[col]):
                    out[col][r] = t
        return out

    @torch.no_grad()
    def _write(self, df: pd.DataFrame, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
               temperature: float, top_p: float) -> dict[str, list[str | None]]:
        self.model.eval()
        encs = [encoder.encoder(c) for c in self.columns]
        flat = np.stack([tokens[:, encoder.subs_of(c)[0]] for c in self.columns], 1) if len(tokens) else \
            np.zeros((0, len(self.columns)), dtype=np.int64)
        prompts = _ids(self.tokenizer, prompt_texts(df, self.prompt_columns))
        written: list[list[list[int] | None]] = [[None] * len(self.columns) for _ in range(len(df))]
        head = headers(self.tokenizer, encs)
        out: dict[str, list[str | None]] = {c: [None] * len(df) for c in self.columns}
        for j, (col, e) in enumerate(zip(self.columns, encs)):
            rows = np.flatnonzero(flat[:, j] != NULL)
            shortest, longest = e.min_length(flat[:, j]), e.max_length(flat[:, j])
            for i in range(0, len(rows), GENERATION_ROWS):
                chunk = rows[i : i + GENERATION_ROWS]
                prefixes = [row_ids(self.tokenizer, head, prompts[r], written[r], flat[r], j) for r in chunk]
                ids = self._draw_column(col, prefixes, shortest[chunk], longest[chunk], gen, temperature, top_p)
                made = [e.clean(t)[: e.max_length_] for t in self.tokenizer.batch_decode(
                    ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)]
                for r, text, again in zip(chunk, made, _ids(self.tokenizer, made)):
                    out[col][r] = text
                    written[r][j] = again  # as the later columns' prompts read it (and training did)
        return out

    def _draw_column(self, col: str, prefixes: list[list[int]], shortest: np.ndarray, longest: np.ndarray,
                     gen: torch.Generator, temperature: float, top_p: float) -> list[list[int]]:
        """Token ids of one text column for rows with these prompts, between ``shortest`` and
        ``longest`` characters each, drawn from the column's own tokens."""
        model, eos = self.model, self.tokenizer.eos_token_id
        device = next(model.parameters()).device
        own, piece = self._column_tokens(col, device)  # [K] ids, EOS first; [K] characters each writes
        steps = int(longest.max()) + 1 if len(prefixes) else 0
        keep = max(_max_positions(model.config) - steps, 1)
        prefixes = [p[-keep:] for p in prefixes]  # the model's context holds the prompt and the text
        m, width = len(prefixes), max(map(len, prefixes))
        x = torch.full((m, width), eos, dtype=torch.long)
        mask = torch.zeros((m, width), dtype=torch.long)
        for r, p in enumerate(prefixes):  # left-padded: every row's next token comes at the end
            x[r, width - len(p):], mask[r, width - len(p):] = torch.as_tensor(p), 1
        x, mask = x.to(device), mask.to(device)
        position = (mask.cumsum(1) - 1).clamp_min(0)
        cache_arg, last_only = self._forward_names()
        out = model(input_ids=x, attention_mask=mask, position_ids=position, use_cache=True, **last_only)
        cache, logits = _cache_of(out), out.logits[:, -1]
        position = position[:, -1:]
        low = torch.as_tensor(shortest, dtype=torch.long, device=device)
        high = torch.as_tensor(longest, dtype=torch.long, device=device)
        length = torch.zeros(m, dtype=torch.long, device=device)
        done = torch.zeros(m, dtype=torch.bool, device=device)
        ids: list[list[int]] = [[] for _ in range(m)]
        for step in range(steps):
            room = high - length  # characters the text may still take
            ok = piece[None, :] <= room[:, None]
            must_end = (room <= 0) | (step == steps - 1)
            ok[must_end] = False
            ok[must_end, 0] = True  # EOS
            ok[length < low, 0] = False
            ok[:, 0] |= ~ok.any(1)
            scores = logits[:, own].float().masked_fill(~ok, float("-inf"))
            if temperature != 1.0:
                scores = scores / max(temperature, 1e-6)
            probs = torch.softmax(scores, -1)
            if top_p < 1.0:
                probs = _top_p_filter(probs, top_p)
            pick = _draw(probs, gen)
            pick = torch.where(done, torch.zeros_like(pick), pick)
            for r in (~done & (pick != 0)).nonzero()[:, 0].tolist():
                ids[r].append(int(own[pick[r]]))
            length = length + piece[pick]
            done = done | (pick == 0)
            if bool(done.all()):
                break
            mask = torch.cat([mask, torch.ones((m, 1), dtype=mask.dtype, device=device)], 1)
            position = position + 1
            out = model(input_ids=own[pick][:, None], attention_mask=mask, position_ids=position, use_cache=True,
                        **{cache_arg: cache})
            cache, logits = _cache_of(out), out.logits[:, -1]
        return ids

    def _column_tokens(self, col: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        cache = self._tokens
        if col not in cache:
            allowed = self.allowed.get(col, [])
            pieces = self.tokenizer.batch_decode([[i] for i in allowed], clean_up_tokenization_spaces=False)
            cache[col] = (torch.tensor([self.tokenizer.eos_token_id, *allowed], dtype=torch.long),
                          torch.tensor([0, *(max(len(p), 1) for p in pieces)], dtype=torch.long))
        own, piece = cache[col]
        return own.to(device), piece.to(device)

    def _forward_names(self) -> tuple[str, dict[str, int]]:
        """The model's name for its key/value cache ("cache" from transformers 5.x, before
        "past_key_values"), and the argument asking for the last position's logits only when
        it has one (a prompt's [m, T, V] logits are big)."""
        params = inspect.signature(self.model.forward).parameters
        return ("cache" if "cache" in params else "past_key_values",
                {"logits_to_keep": 1} if "logits_to_keep" in params else {})


def _cache_of(out) -> Any:
    return out["cache"] if "cache" in out else out["past_key_values"]


# --- prompts and sequences -------------------------------------------------------------------
def prompt_columns(encoder: TableEncoder) -> list[str]:
    """The flat columns a row's prompt shows: every modelled column but keys and texts."""
    return [e.name for e in encoder.encoders if e.kind not in ("key", "text") and encoder.subs_of(e.name)]


def prompt_texts(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Each row's other columns as ``name: value | ...`` (nulls left out), at most
    MAX_PROMPT_CHARS characters (whole columns)."""
    values = [[_show(v) for v in df[c].to_numpy(dtype=object)] for c in columns if c in df.columns]
    names = [c for c in columns if c in df.columns]
    out = []
    for r in range(len(df)):
        parts, size = [], 0
        for c, vs in zip(names, values):
            if vs[r] is None:
                continue
            part = f"{c}: {vs[r]}"
            if size + len(part) > MAX_PROMPT_CHARS:
                break
            parts.append(part)
            size += len(part) + len(SEPARATOR)
        out.append(SEPARATOR.join(parts))
    return out


def _show(v: Any) -> str | None:
    if v is None or (not isinstance(v, (str, bytes)) and pd.isna(v)):
        return None
    if isinstance(v, (float, np.floating)):
        v = int(v) if float(v).is_integer() and abs(v) < 1e15 else float(f"{v:.6g}")
    return " ".join(str(v).split())[:MAX_PROMPT_VALUE]


def _ids(tokenizer, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    return [list(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def headers(tokenizer, encoders: list[TextEncoder]) -> dict[tuple[int, int, bool], list[int]]:
    """Token ids of each text column's header per length bucket (the flat token: 1..B) and
    whether something comes before it: ``name (lo-hi characters): `` or `` | name (...): ``.
    The length range lets the model plan where the text ends, as the built-in model's room does."""
    keys, strings = [], []
    for j, e in enumerate(encoders):
        buckets = np.arange(1, e.cardinalities[0])
        for b, lo, hi in zip(buckets, e.min_length(buckets), e.max_length(buckets)):
            size = f"{lo}" if lo == hi else f"{lo}-{hi}"
            for after in (False, True):
                keys.append((j, int(b), after))
                strings.append(f"{SEPARATOR if after else ''}{e.name} ({size} characters): ")
    return dict(zip(keys, _ids(tokenizer, strings)))


def row_ids(tokenizer, head: dict[tuple[int, int, bool], list[int]], prompt: list[int],
            texts: list[list[int] | None], buckets: list[int], upto: int,
            labels: bool = False) -> list[int] | tuple[list[int], list[bool]]:
    """A row's sequence: BOS, the prompt, then each non-null text column before ``upto`` as its
    header (``head``: the ``headers``; ``buckets``: the row's length bucket per column), its
    text and EOS, then column ``upto``'s header (nothing after it when ``upto`` is the number
    of columns: the training sequence). With ``labels``: also which positions are text or EOS."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    ids = ([bos] if bos is not None else []) + list(prompt)
    learn = [False] * len(ids)
    after = bool(prompt)
    for j in range(min(upto + 1, len(buckets))):
        if j < upto and texts[j] is None:
            continue
        h = head[(j, int(buckets[j]), after)]
        ids += h
        learn += [False] * len(h)
        after = True
        if j == upto:
            break
        ids += [*texts[j], eos]
        learn += [True] * (len(texts[j]) + 1)
    return (ids, learn) if labels else ids


# --- training ----------------------------------------------------------------------------------
def train_pretrained_text(encoder: TableEncoder, df: pd.DataFrame, tokens: np.ndarray, config: TrainConfig,
                          seed: int | None, seconds: float | None) -> tuple[PretrainedTextPart, dict]:
    """Fine-tune ``config.text_model`` on ``df``'s text columns, each row's other columns as
    its prompt, within ``seconds`` (None: no limit). Returns the part and a training summary."""
    began = time.monotonic()
    if seconds is not None and config.max_training_time is not None:
        seconds = min(seconds, MAX_TIME_SHARE * config.max_training_time) * (1 - TIME_MARGIN)
    model, tokenizer = load_pretrained(config.text_model)
    encoders = [e for e in encoder.encoders if isinstance(e, TextEncoder)]
    columns = [e.name for e in encoders]
    shown = prompt_columns(encoder)
    gen = torch.Generator()
    gen.manual_seed(seed) if seed is not None else gen.seed()
    texts = [e.texts(df[e.name]) for e in encoders]  # cleaned, cut to each column's max length
    text_ids = []
    for col in texts:
        present = [t for t in col if t is not None]
        it = iter(_ids(tokenizer, present))
        text_ids.append([None if t is None else next(it) for t in col])
    least = MIN_ROWS_PER_CHAR if config.rare_category_protection else 1
    allowed = {}
    for c, col in zip(columns, text_ids):
        rows_with = Counter(i for ids in col if ids is not None for i in set(ids))
        allowed[c] = sorted(i for i, k in rows_with.items() if k >= least and i != tokenizer.eos_token_id)
    part = PretrainedTextPart(columns, shown, model, tokenizer, allowed, source=Path(config.text_model).name)
    if config.text_never_replay:
        part.replay_key = f"{int(torch.randint(2**62, (1,), generator=gen)):x}"
        for c, col in zip(columns, texts):
            present = [t for t in col if t is not None]
            if present and len(set(present)) / len(present) >= REPLAY_MIN_UNIQUE_SHARE:
                part.replay[c] = sorted({replay_hash(t, part.replay_key) for t in present})
    prompts = _ids(tokenizer, prompt_texts(df, shown))
    limit = _max_positions(model.config)
    head = headers(tokenizer, encoders)
    flat = np.stack([tokens[:, encoder.subs_of(c)[0]] for c in columns], 1)
    seqs = []
    for r in range(len(df)):
        ids, learn = row_ids(tokenizer, head, prompts[r], [col[r] for col in text_ids], flat[r], len(columns),
                             labels=True)
        if any(learn[:limit]):  # rows whose texts are all null teach nothing (and would make a NaN loss)
            seqs.append((ids[:limit], learn[:limit]))
    with torch.random.fork_rng(devices=[]):  # dropout draws from the seed; the globals stay untouched
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
        summary = fit_pretrained(model, seqs, tokenizer.eos_token_id, config, gen,
                                 None if seconds is None else max(seconds - (time.monotonic() - began), 0.0))
    summary = {"model": f"pretrained {part.architecture}", **summary, "seconds": round(time.monotonic() - began, 2)}
    return part, summary


def fit_pretrained(model, seqs: list[tuple[list[int], list[bool]]], pad: int, config: TrainConfig,
                   gen: torch.Generator, seconds: float | None) -> dict:
    """Fine-tune ``model`` in place on (ids, which positions are learned) per row; the best
    validation checkpoint is kept. Stops at ``config.max_epochs``, after PATIENCE epochs
    without improvement, or when ``seconds`` run out (after at least one step)."""
    from ..training import BestCheckpoint, clipped_step, pick_device, validation_split

    end = time.monotonic() + (math.inf if seconds is None else seconds)
    device = pick_device(config.device)
    model.to(device)
    val_idx, trn_idx = validation_split(len(seqs), gen, MAX_VAL_ROWS, VAL_SHARE)
    lr = min(MAX_LEARNING_RATE, LR_WIDTH / model.get_input_embeddings().embedding_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP_STEPS))

    def batch(rows: torch.Tensor) -> dict[str, torch.Tensor]:
        width = max(len(seqs[r][0]) for r in rows.tolist())
        x = torch.full((len(rows), width), pad, dtype=torch.long)
        y = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows.tolist()):
            ids, learn = seqs[r]
            t = torch.as_tensor(ids)
            x[k, : len(ids)], mask[k, : len(ids)] = t, 1
            y[k, : len(ids)] = torch.where(torch.as_tensor(learn, dtype=torch.bool), t, -100)
        return {"input_ids": x.to(device), "attention_mask": mask.to(device), "labels": y.to(device)}

    def validate() -> float:
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val_idx), 4 * BATCH_ROWS):
                b = batch(val_idx[i : i + 4 * BATCH_ROWS])
                k = int((b["labels"][:, 1:] != -100).sum())
                if k:
                    total += float(model(**b).loss) * k
                    count += k
        return total / max(count, 1)

    best, steps, epoch = BestCheckpoint(), 0, 0  # no copy of the starting weights (a large model)
    stopped_by = "max_epochs"
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        out_of_time = False
        order = trn_idx[torch.randperm(len(trn_idx), generator=gen)]
        for i in range(0, len(order), BATCH_ROWS):
            if steps and time.monotonic() > end:
                out_of_time = True
                break
            clipped_step(model, opt, model(**batch(order[i : i + BATCH_ROWS])).loss, GRAD_CLIP)
            warmup.step()
            steps += 1
        val = validate()
        best.update(model, val, epoch)
        log.info("text epoch %d (pretrained): validation loss %.4f per token", epoch, val)
        if reason := best.stop(out_of_time or time.monotonic() > end, PATIENCE):
            stopped_by = reason
            break
    best.restore(model)
    model.eval()
    return {"epochs": epoch, "best_epoch": best.epoch, "steps": steps, "learning_rate": lr, "val_loss": round(best.loss, 5),
            "stopped_by": stopped_by, "device": device.type}


def _max_positions(cfg) -> int:
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return 1024


# --- the model file ------------------------------------------------------------------------
def _saved_tensors(model) -> dict[str, torch.Tensor]:
    """The model's floating-point state, each tied tensor under its first name only."""
    seen, out = set(), {}
    for k, v in model.state_dict(keep_vars=True).items():
        if id(v) in seen or not v.is_floating_point():
            continue
        seen.add(id(v))
        out[k] = v
    return out


def _tokenizer_files(tokenizer) -> dict[str, dict[str, str]]:
    """The tokenizer's files (save_pretrained), as {name: {"text": ...}} or {"base64": ...}."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        out = {}
        for name in sorted(os.listdir(tmp)):
            raw = Path(tmp, name).read_bytes()
            try:
                out[name] = {"text": raw.decode("utf-8")}
            except UnicodeDecodeError:
                out[name] = {"base64": base64.b64encode(raw).decode("ascii")}
    return out


class PretrainedNetwork(BaseModel):
    """The "text_model" description in meta.json of a fine-tuned Hugging Face model."""

    model_config = ConfigDict(extra="ignore", strict=True)
    kind: Literal["pretrained"]
    columns: list[str] = Field(min_length=1, max_length=10_000)
    prompt_columns: list[str] = Field(max_length=10_000)
    architecture: str = Field(max_length=200)
    source: str = Field(default="", max_length=1_000)
    hf_config: dict[str, Any]
    tokenizer_files: dict[str, dict[Literal["text", "base64"], str]] = Field(max_length=64)
    allowed: dict[str, list[Annotated[int, Field(ge=0, lt=10_000_000)]]]
    replay_key: str = Field(default="", max_length=64)
    replay: dict[str, list[Annotated[int, Field(ge=0, lt=2**32)]]] = Field(default_factory=dict)
    _shapes: dict[str, tuple[int, ...]] | None = PrivateAttr(default=None)

    def build(self, path: str | os.PathLike[str], device: str | torch.device | None = None):
        """The (untrained) model this description makes, on ``device`` ("meta": no memory)."""
        transformers = _transformers(f"model file '{path}' (its text columns use a fine-tuned {self.architecture})",
                                     ModelFileError)
        cfg = dict(self.hf_config)
        model_type = cfg.pop("model_type", None)
        try:
            config = transformers.AutoConfig.for_model(model_type, **cfg)
            with torch.device(device or "cpu"):
                model = transformers.AutoModelForCausalLM.from_config(config).float()
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"model file '{path}': its text model ({self.architecture}, model type "
                                 f"{model_type!r}) does not build with this transformers ({_short(exc)}); install "
                                 "the transformers version it was trained with") from None
        if type(model).__name__ != self.architecture:
            raise ModelFileError(f"model file '{path}' is corrupt (its text model builds as {type(model).__name__}, "
                                 f"not {self.architecture}); train it again")
        return model

    def expected_shapes(self, path: str | os.PathLike[str] = "") -> dict[str, tuple[int, ...]]:
        """The tensors the weights file holds for it, prefixed "text.", without allocating them."""
        if self._shapes is None:
            model = self.build(path, "meta")
            self._shapes = {f"text.{k}": tuple(v.shape) for k, v in _saved_tensors(model).items()}
        return self._shapes


def pretrained_network_of(raw: dict[str, Any], path: str | os.PathLike[str]) -> PretrainedNetwork:
    """The checked description of a fine-tuned Hugging Face text model in meta.json."""
    try:
        desc = PretrainedNetwork.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "text_model"
        raise ModelFileError(f"model file '{path}' has an invalid text model description ({where}: {e['msg']}); "
                             "train it again") from None
    size = sum(len(v) for f in desc.tokenizer_files.values() for v in f.values())
    if size > MAX_TOKENIZER_BYTES or not all(_FILE_NAME.match(n) for n in desc.tokenizer_files):
        raise ModelFileError(f"model file '{path}' is corrupt (its tokenizer files are too big or badly named); "
                             "train it again")
    if len(set(desc.columns)) != len(desc.columns) or not set(desc.replay) <= set(desc.columns) \
            or set(desc.allowed) != set(desc.columns):
        raise ModelFileError(f"model file '{path}' is corrupt (its text model's columns repeat or are unknown); "
                             "train it again")
    depth = [v for k, v in desc.hf_config.items() if k in _DEPTH_KEYS]
    if not all(isinstance(v, int) and 0 < v <= MAX_LAYERS for v in depth):
        raise ModelFileError(f"model file '{path}' describes a text model of {depth} layers; it is not a file "
                             "lookalike wrote")
    from ..artifact import MAX_PARAMETERS

    n = sum(math.prod(v) for v in desc.expected_shapes(path).values())
    if n > MAX_PARAMETERS:
        raise ModelFileError(f"model file '{path}' describes a text model of {n:,} parameters, more than "
                             f"{MAX_PARAMETERS:,}; it is not a file lookalike wrote")
    return desc


def load_part(desc: PretrainedNetwork, state: dict[str, torch.Tensor], path: str | os.PathLike[str]
              ) -> PretrainedTextPart:
    """The text part of a model file; its "text." tensors leave ``state``."""
    transformers = _transformers(f"model file '{path}' (its text columns use a fine-tuned {desc.architecture})",
                                 ModelFileError)
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in desc.tokenizer_files.items():
            data = content["text"].encode("utf-8") if "text" in content else base64.b64decode(content["base64"])
            Path(tmp, name).write_bytes(data)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"model file '{path}': its text model's tokenizer does not load ({_short(exc)}); "
                                 "train it again") from None
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten; the globals stay untouched
        model = desc.build(path)
    weights = {k[len("text."):]: state.pop(k) for k in [k for k in state if k.startswith("text.")]}
    model.load_state_dict(weights, strict=False)  # names and shapes were checked: the rest are tied or buffers
    vocab = model.get_output_embeddings().weight.shape[0]
    if tokenizer.eos_token_id is None or any(i >= vocab for ids in desc.allowed.values() for i in ids):
        raise ModelFileError(f"model file '{path}' is corrupt (its text model's tokens do not match its "
                             "vocabulary); train it again")
    return PretrainedTextPart(desc.columns, desc.prompt_columns, model.eval(), tokenizer, desc.allowed,
                              desc.source, desc.replay_key, desc.replay)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
