"""Writing texts: each row's text columns, character by character, given its flat tokens.

A null text column (its flat token says so) gets no text; a non-null one is at least as
long as its length bucket's shortest text and at most its column's max length; each column
draws only its own tokenizer's characters. Temperature and top-p act as in the flat engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..encoding import TableEncoder
from ..encoding.base import NULL
from ..sampling import _draw, _top_p_filter
from . import TextPart, replay_hash
from .model import BOS, END, PAD

MAX_REPLAY_REDRAWS = 5


def write_texts(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
                temperature: float = 1.0, top_p: float = 1.0) -> dict[str, list[str | None]]:
    """The texts of rows with flat tokens [n, S], per text column. With never-replay, a text
    equal to a training text is redrawn (the whole row's texts), up to MAX_REPLAY_REDRAWS times."""
    out = _draw_texts(part, encoder, tokens, gen, temperature, top_p)
    for _ in range(MAX_REPLAY_REDRAWS):
        again = np.zeros(len(tokens), dtype=bool)
        for col, hashes in part.replay.items():
            seen = set(hashes)
            again |= np.array([t is not None and replay_hash(t, part.replay_key) in seen for t in out[col]], dtype=bool)
        if not again.any():
            break
        rows = np.flatnonzero(again)
        redrawn = _draw_texts(part, encoder, tokens[rows], gen, temperature, top_p)
        for col in out:
            for r, t in zip(rows, redrawn[col]):
                out[col][r] = t
    return out


@torch.no_grad()
def _draw_texts(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
                temperature: float, top_p: float) -> dict[str, list[str | None]]:
    model, vocab = part.model, part.vocab
    device = next(model.parameters()).device
    n, C = len(tokens), len(part.columns)
    encs = [encoder.encoder(c) for c in part.columns]
    own = [encoder.subs_of(c)[0] for c in part.columns]
    flat = tokens[:, own]  # [n, C] null / length bucket of each text column
    is_null = torch.as_tensor(flat == NULL, device=device)
    shortest = torch.as_tensor(np.stack([e.min_length(flat[:, j]) for j, e in enumerate(encs)], 1), device=device)
    longest = torch.tensor([e.max_length_ for e in encs] + [0], device=device)
    # [C + 1, V]: what each column may draw; past the last column only PAD-like END
    allowed = torch.stack([vocab.allowed(e.vocab_) for e in encs] + [vocab.allowed([])]).to(device)
    shortest = torch.cat([shortest, torch.zeros((n, 1), dtype=shortest.dtype, device=device)], 1)
    is_null = torch.cat([is_null, torch.ones((n, 1), dtype=torch.bool, device=device)], 1)

    c_in, h = model.start(torch.as_tensor(np.asarray(tokens, dtype=np.int64), device=device))
    rows = torch.arange(n, device=device)
    prev = torch.full((n,), BOS, dtype=torch.long, device=device)
    column = torch.zeros(n, dtype=torch.long, device=device)
    length = torch.zeros(n, dtype=torch.long, device=device)
    drawn = []
    for _ in range(int(longest.sum()) + C):
        if bool((column >= C).all()):
            break
        logits, h = model(prev[:, None], column[:, None], c_in, h)
        logits = logits[:, 0].float()
        ok = allowed[column].clone()  # [n, V]
        must_end = is_null[rows, column] | (length >= longest[column])
        ok[must_end] = False
        ok[must_end, END] = True
        ok[length < shortest[rows, column], END] = False
        ok[:, END] |= ~ok.any(1)  # a column whose vocabulary is empty
        logits = logits.masked_fill(~ok, float("-inf"))
        if temperature != 1.0:
            logits = logits / max(temperature, 1e-6)
        probs = torch.softmax(logits, -1)
        if top_p < 1.0:
            probs = _top_p_filter(probs, top_p)
        nxt = _draw(probs, gen)
        nxt = torch.where(column >= C, torch.full_like(nxt, PAD), nxt)
        drawn.append(nxt)
        ended = nxt == END
        length = torch.where(ended, torch.zeros_like(length), length + 1)
        column = column + ended.long()
        prev = nxt
    ids = torch.stack(drawn, 1).cpu().numpy() if drawn else np.zeros((n, 0), dtype=np.int64)
    return _decode(ids, vocab.chars, part.columns, flat)


def _decode(ids: np.ndarray, chars: list[str], columns: list[str], flat: np.ndarray) -> dict[str, list[str | None]]:
    table = np.array(["", "", "", *chars], dtype=object)  # PAD, BOS, END write nothing
    out: dict[str, list[str | None]] = {c: [] for c in columns}
    for r in range(len(ids)):
        row = ids[r]
        ends = np.flatnonzero(row == END)
        begin = 0
        for j, c in enumerate(columns):
            stop = int(ends[j]) if j < len(ends) else len(row)
            out[c].append(None if flat[r, j] == NULL else "".join(table[row[begin:stop]]))
            begin = stop + 1
    return out


def fill_texts(df: pd.DataFrame, part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
               temperature: float = 1.0, top_p: float = 1.0) -> pd.DataFrame:
    """``df`` (decoded flat columns, text columns empty) with its texts written in place."""
    texts = write_texts(part, encoder, tokens, gen, temperature, top_p)
    for col, values in texts.items():
        s = pd.Series(values, name=col, dtype=object)
        df[col] = s.astype(df[col].dtype) if df[col].dtype != object else s
    return df
