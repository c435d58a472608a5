"""Training the text model: next-token loss over each row's text sequence, given the row's
flat tokens; a validation split, early stopping and a time budget, with a learning rate that
decays over the budget's second half (the model is usually stopped by time, and ends at its
best on a small rate). Batches hold rows of similar length (shuffled within buckets), so
little of each step is padding."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..encoding import TableEncoder
from ..encoding.text import TextEncoder
from ..training import BestCheckpoint, clipped_step, pick_device, validation_split
from . import TextPart, replay_hash, row_positions
from .model import BOS, END, PAD, TEXT_SIZES, TextModel, TextVocab
from .sampling import rake_text

log = logging.getLogger(__name__)

MAX_BATCH_SIZE = 256
MIN_BATCH_SIZE = 16
VAL_SHARE = 0.1
MAX_VAL_ROWS = 2_000
PATIENCE = 3  # epochs without validation improvement (the learning rate halves after each)
REPLAY_MIN_UNIQUE_SHARE = 0.5  # never-replay applies to columns whose texts are mostly unique
GRAD_CLIP = 1.0
BUCKET_BATCHES = 32  # rows are sorted by length within groups of this many batches
MAX_TIME_SHARE = 2 / 3  # of max_training_time, the text model's budget at most
TIME_MARGIN = 0.05  # of the text model's budget, kept for the last step, validation and checkpoint
ANNEAL_FROM = 0.5  # share of the time budget (or of max_epochs) after which the learning rate decays ...
ANNEAL_TO = 0.05  # ... along a half cosine to this share of itself at the end


def text_columns(encoder: TableEncoder) -> list[TextEncoder]:
    """The table's text columns that the text model writes (not DP ones, which are categories)."""
    return [e for e in encoder.encoders if isinstance(e, TextEncoder)]


def sequences(encoders: list[TextEncoder], vocab: TextVocab, df: pd.DataFrame) -> torch.Tensor:
    """Each row's ``BOS t1 END t2 END ...`` as ids, right-padded with PAD: [n, T + 1]."""
    cols = [[vocab.ids(e.tokenize(t or "")) for t in e.texts(df[e.name])] for e in encoders]
    rows = [[BOS] + [i for c in cols for i in (*c[r], END)] for r in range(len(df))]
    width = max((len(r) for r in rows), default=1)
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for r, ids in enumerate(rows):
        out[r, : len(ids)] = torch.as_tensor(ids)
    return out


def column_ids(chars: torch.Tensor, n_columns: int) -> torch.Tensor:
    """Which text column each input step writes: the number of ENDs read so far."""
    return (chars == END).long().cumsum(1).clamp_max(n_columns)


def room_left(x: torch.Tensor, columns: torch.Tensor, longest: torch.Tensor, piece_length: torch.Tensor) -> torch.Tensor:
    """[B, T] characters each input step's text may still take: its length bucket's longest
    (``longest`` [B, C + 1], per column) minus the characters of the column read so far."""
    cum = piece_length[x].cumsum(1)
    start = torch.where((x == END) | (x == BOS), cum, torch.zeros_like(cum)).cummax(1).values
    return longest.gather(1, columns) - (cum - start)


def text_limits(encoders: list[TextEncoder], encoder: TableEncoder, tokens: np.ndarray) -> torch.Tensor:
    """[n, C + 1] the longest text each row's length bucket holds, per text column (+ 0 after the last)."""
    cols = [e.max_length(tokens[:, encoder.subs_of(e.name)[0]]) for e in encoders]
    return torch.as_tensor(np.stack([*cols, np.zeros(len(tokens), dtype=np.int64)], 1), dtype=torch.long)


def sequence_loss(model: TextModel, seqs: torch.Tensor, context: torch.Tensor, positions: torch.Tensor,
                  longest: torch.Tensor, piece_length: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy of padded sequences [B, T + 1] given flat tokens [B, S], their
    values' positions [B, S] and the rows' longest texts [B, C + 1]."""
    width = int((seqs != PAD).sum(1).max())
    seqs = seqs[:, :width]
    x, y = seqs[:, :-1], seqs[:, 1:]
    c_in, h0 = model.start(context, positions)
    columns = column_ids(x, model.n_columns)
    features, _ = model.features(x, columns, room_left(x, columns, longest, piece_length), c_in, h0)
    real = y != PAD
    nll = model.nll(features[real], y[real])  # [tokens]
    return nll.sum() if reduction == "sum" else nll.mean()


def batch_size(n_rows: int) -> int:
    """~n/20 rows per step within [MIN_BATCH_SIZE, MAX_BATCH_SIZE]: small tables still take
    enough steps per epoch to learn in a few epochs."""
    return int(2 ** np.clip(round(math.log2(max(n_rows, 1) / 20)), math.log2(MIN_BATCH_SIZE), math.log2(MAX_BATCH_SIZE)))


def train_text(encoder: TableEncoder, df: pd.DataFrame, tokens: np.ndarray, config: TrainConfig, seed: int | None,
               seconds: float | None) -> tuple[TextPart, dict]:
    """Fit the text model of ``df``'s text columns given its flat ``tokens`` [n, S], within
    ``seconds`` (None: no limit). Returns the part and a training summary."""
    began = time.monotonic()
    if seconds is not None and config.max_training_time is not None:
        seconds = min(seconds, MAX_TIME_SHARE * config.max_training_time) * (1 - TIME_MARGIN)
    encoders = text_columns(encoder)
    vocab = TextVocab.of([e.vocab_ for e in encoders])
    E, H, L, R = TEXT_SIZES[config.model_size]
    gen = torch.Generator()
    gen.manual_seed(seed) if seed is not None else gen.seed()
    with torch.random.fork_rng(devices=[]):  # the layers' initial weights come from the seed, globals untouched
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
        model = TextModel(encoder.cardinalities, vocab.size, len(encoders), embed=E, hidden=H, layers=L, head_rank=R)
    part = TextPart([e.name for e in encoders], vocab, model)
    if config.text_never_replay:
        part.replay_key = f"{int(torch.randint(2**62, (1,), generator=gen)):x}"
        for e in encoders:
            texts = [t for t in e.texts(df[e.name]) if t is not None]
            if texts and len(set(texts)) / len(texts) >= REPLAY_MIN_UNIQUE_SHARE:
                part.replay[e.name] = sorted({replay_hash(t, part.replay_key) for t in texts})
    seqs = sequences(encoders, vocab, df)
    summary = fit_text(model, seqs, torch.as_tensor(np.asarray(tokens, dtype=np.int64)),
                       torch.as_tensor(row_positions(encoder, tokens)), text_limits(encoders, encoder, tokens), vocab.lengths(), config, gen,
                       None if seconds is None else max(seconds - (time.monotonic() - began), 0.0))
    rake_text(part, encoder, np.asarray(tokens), seqs, gen)  # token counts back to the training texts'
    summary["seconds"] = round(time.monotonic() - began, 2)
    return part, summary


def fit_text(model: TextModel, seqs: torch.Tensor, context: torch.Tensor, positions: torch.Tensor,
             longest: torch.Tensor, piece_length: torch.Tensor, config: TrainConfig, gen: torch.Generator,
             seconds: float | None) -> dict:
    """Train ``model`` in place on sequences [n, T + 1], flat tokens [n, S] (and their
    values' positions, ``row_positions``) and the longest
    text of each row's length buckets [n, C + 1] (``piece_length`` [V]: characters per token); the best
    validation checkpoint is kept. Stops at ``config.max_epochs``, after PATIENCE epochs
    without improvement, or when ``seconds`` run out (after at least one step)."""
    end = time.monotonic() + (math.inf if seconds is None else seconds)
    device = pick_device(config.device)
    model.to(device)
    piece_length = piece_length.to(device)
    val_idx, trn_idx = validation_split(len(seqs), gen, MAX_VAL_ROWS, VAL_SHARE)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    lr = config.learning_rate  # halved after an epoch without improvement
    began, budget = time.monotonic(), (math.inf if seconds is None else max(seconds, 1e-9))

    def anneal(epoch_done: float) -> float:
        """The learning rate's factor: 1, then a half cosine down to ANNEAL_TO over the last
        part of the time budget or of max_epochs, whichever is further along."""
        p = max((time.monotonic() - began) / budget, epoch_done / config.max_epochs)
        p = min(max((p - ANNEAL_FROM) / (1 - ANNEAL_FROM), 0.0), 1.0)
        return ANNEAL_TO + (1 - ANNEAL_TO) * 0.5 * (1 + math.cos(math.pi * p))
    best, steps, epoch = BestCheckpoint(model), 0, 0
    stopped_by = "max_epochs"
    bs = max(1, min(batch_size(len(trn_idx)), len(trn_idx)))

    lengths = (seqs != PAD).sum(1)

    def batches() -> list[torch.Tensor]:
        """One epoch's batches: shuffled rows, sorted by length within buckets, batches shuffled."""
        order = trn_idx[torch.randperm(len(trn_idx), generator=gen)]
        out = []
        for b in range(0, len(order), bs * BUCKET_BATCHES):
            chunk = order[b : b + bs * BUCKET_BATCHES]
            chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
            out += [chunk[i : i + bs] for i in range(0, max(len(chunk) - bs + 1, 1), bs)]
        return [out[i] for i in torch.randperm(len(out), generator=gen).tolist()]

    def validate() -> float:
        model.eval()
        total, chars = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val_idx), 1024):
                rows = val_idx[i : i + 1024]
                s = seqs[rows].to(device)
                total += float(sequence_loss(model, s, context[rows].to(device), positions[rows].to(device),
                                             longest[rows].to(device), piece_length, reduction="sum"))
                chars += int((s[:, 1:] != PAD).sum())
        return total / max(chars, 1)

    for epoch in range(1, config.max_epochs + 1):
        model.train()
        out_of_time = False
        epoch_batches = batches()
        for i, rows in enumerate(epoch_batches):
            if steps and time.monotonic() > end:
                out_of_time = True
                break
            for group in opt.param_groups:
                group["lr"] = lr * anneal(epoch - 1 + i / len(epoch_batches))
            loss = sequence_loss(model, seqs[rows].to(device), context[rows].to(device), positions[rows].to(device),
                                 longest[rows].to(device), piece_length)
            clipped_step(model, opt, loss, GRAD_CLIP)
            steps += 1
        val = validate()
        if not best.update(model, val, epoch):
            lr *= 0.5
        log.info("text epoch %d: validation loss %.4f per character", epoch, val)
        if reason := best.stop(out_of_time or time.monotonic() > end, PATIENCE):
            stopped_by = reason
            break
    best.restore(model)
    model.eval()
    return {"epochs": epoch, "best_epoch": best.epoch, "val_loss": round(best.loss, 5), "stopped_by": stopped_by,
            "device": device.type}
