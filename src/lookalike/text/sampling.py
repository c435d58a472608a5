"""Writing texts: each row's text columns, token by token, given its flat tokens.

A null text column (its flat token says so) gets no text; a non-null one is at least as
long as its length bucket's shortest text and at most its column's max length (in
characters: a word token that would pass it is not drawn); each column draws only its own
tokenizer's tokens. Temperature and top-p act as in the flat engine.
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
CHUNK_ROWS = 8_192  # rows written at once (bounds the [rows, V] step tensors)


def write_texts(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
                temperature: float = 1.0, top_p: float = 1.0) -> dict[str, list[str | None]]:
    """The texts of rows with flat tokens [n, S], per text column. With never-replay, a text
    equal to a training text is redrawn (the whole row's texts), up to MAX_REPLAY_REDRAWS times."""
    out = _draw_chunks(part, encoder, tokens, gen, temperature, top_p)
    for _ in range(MAX_REPLAY_REDRAWS):
        again = np.zeros(len(tokens), dtype=bool)
        for col, hashes in part.replay.items():
            seen = set(hashes)
            again |= np.array([t is not None and replay_hash(t, part.replay_key) in seen for t in out[col]], dtype=bool)
        if not again.any():
            break
        rows = np.flatnonzero(again)
        redrawn = _draw_chunks(part, encoder, tokens[rows], gen, temperature, top_p)
        for col in out:
            for r, t in zip(rows, redrawn[col]):
                out[col][r] = t
    return out


def _draw_chunks(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
                 temperature: float, top_p: float) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {c: [] for c in part.columns}
    for i in range(0, len(tokens), CHUNK_ROWS):
        for c, texts in _draw_texts(part, encoder, tokens[i : i + CHUNK_ROWS], gen, temperature, top_p).items():
            out[c] += texts
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
    zero = np.zeros((n, 1), dtype=np.int64)
    # [n, C + 1] per row and column (+ 1: past the last one, nothing): null, shortest, longest
    is_null = torch.as_tensor(np.concatenate([flat == NULL, zero == 0], 1), device=device)
    shortest = torch.as_tensor(np.concatenate([np.stack([e.min_length(flat[:, j]) for j, e in enumerate(encs)], 1),
                                               zero], 1), dtype=torch.long, device=device)
    longest = torch.as_tensor(np.concatenate([np.stack([e.max_length(flat[:, j]) for j, e in enumerate(encs)], 1),
                                              zero], 1), dtype=torch.long, device=device)
    # per column: the ids it may write, END first, and their output weights and lengths
    lookup = vocab._lookup()
    own_ids = [torch.tensor([END] + sorted(lookup[t] for t in e.vocab_), dtype=torch.long, device=device)
               for e in encs]
    vocab_lengths = vocab.lengths().to(device)
    weights = [(model.head.weight[i].float(), model.head.bias[i].float(), vocab_lengths[i])
               for i in own_ids]

    c_in, h = model.start(torch.as_tensor(np.asarray(tokens, dtype=np.int64), device=device))
    live = torch.arange(n, device=device)  # rows still writing; finished ones leave the batch
    prev = torch.full((n,), BOS, dtype=torch.long, device=device)
    column = torch.zeros(n, dtype=torch.long, device=device)
    length = torch.zeros(n, dtype=torch.long, device=device)
    ids = torch.full((n, int(longest.sum(1).max()) + C), PAD, dtype=torch.long, device=device)
    for step in range(ids.shape[1]):  # each step writes a character at least, or ends a column
        room = longest[live, column] - length  # [m] characters the text may still take
        features, h = model.features(prev[:, None], column[:, None], room[:, None], c_in, h)
        features = features[:, 0].float()
        nxt = torch.empty_like(prev)
        for j in range(C):
            sel = (column == j).nonzero()[:, 0]
            if not len(sel):
                continue
            w, b, piece_length = weights[j]
            logits = features[sel] @ w.T + b  # [m_j, V_j]
            r = room[sel]
            ok = piece_length[None, :] <= r[:, None]
            must_end = is_null[live[sel], j] | (r <= 0)
            ok[must_end] = False
            ok[must_end, 0] = True  # END
            ok[length[sel] < shortest[live[sel], j], 0] = False
            ok[:, 0] |= ~ok.any(1)  # a column whose vocabulary is empty
            logits = logits.masked_fill(~ok, float("-inf"))
            if temperature != 1.0:
                logits = logits / max(temperature, 1e-6)
            probs = torch.softmax(logits, -1)
            if top_p < 1.0:
                probs = _top_p_filter(probs, top_p)
            nxt[sel] = own_ids[j][_draw(probs, gen)]
        ids[live, step] = nxt
        ended = nxt == END
        length = torch.where(ended, torch.zeros_like(length), length + vocab_lengths[nxt])
        column = column + ended.long()
        going = column < C
        if not bool(going.all()):
            if not bool(going.any()):
                break
            keep = going.nonzero()[:, 0]
            live, prev, column, length = live[keep], nxt[keep], column[keep], length[keep]
            c_in, h = c_in[keep], h[:, keep]
        else:
            prev = nxt
    return _decode(ids.cpu().numpy(), vocab.pieces, part.columns, flat)


def _decode(ids: np.ndarray, pieces: list[str], columns: list[str], flat: np.ndarray) -> dict[str, list[str | None]]:
    table = np.array(["", "", "", *pieces], dtype=object)  # PAD, BOS, END write nothing
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
