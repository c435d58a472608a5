"""Writing texts: each row's text columns, token by token, given its flat tokens.

A null text column (its flat token says so) gets no text; a non-null one is at least as
long as its length bucket's shortest text and at most its column's max length (in
characters: a word token that would pass it is not drawn); each column draws only its own
tokenizer's tokens. Temperature and top-p act as in the flat engine; at their defaults a
rare token's cluster of the adaptive softmax is computed only for the rows that draw it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..encoding import TableEncoder
from ..encoding.base import NULL
from ..sampling import _draw, _top_p_filter
from . import TextPart, replay_hash, row_positions
from .model import BOS, END, PAD, SPECIALS

MAX_REPLAY_REDRAWS = 5
RAKE_ROUNDS = 2  # rounds of raking the text model's token counts after training (rake_text) ...
RAKE_ROWS = 8_000  # ... each writing the texts of this many training rows at most
RAKE_SMOOTH = 1e-4  # added to both shares: a token never drawn moves a bounded step
MAX_CLUSTER_TRIES = 8  # rounds of the adaptive softmax's rejection sampler before the exact draw
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
    ids, flat = _draw_ids(part, encoder, tokens, gen, temperature, top_p)
    return _decode(ids, part.vocab.pieces, part.columns, flat)


@torch.no_grad()
def rake_text(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, seqs: torch.Tensor, gen: torch.Generator,
              rounds: int = RAKE_ROUNDS, rows: int = RAKE_ROWS) -> None:
    """Shift the text model's output biases until the tokens it writes for real rows (flat
    tokens [n, S]) are used as often as in the training texts (``seqs``, ids), as
    ``calibration.rake`` does for the flat heads: each token's bias moves by log(want / have),
    a rarer token's within its cluster of the adaptive softmax and the cluster's own entry by
    the cluster's. The row's say in the words is kept; what drifts along the texts is taken
    out. The specials (END included: where a text ends is the length bucket's) stay."""
    model = part.model
    V, first = model.vocab_size, model.cutoffs[0]
    want = torch.bincount(seqs.flatten(), minlength=V).double()
    want[:SPECIALS] = 0
    if want.sum() <= 0:
        return
    want = want / want.sum()
    words = want > 0
    for _ in range(rounds):
        pick = torch.randint(len(tokens), (min(rows, len(tokens)),), generator=gen).numpy()
        ids, _ = _draw_ids(part, encoder, tokens[pick], gen, 1.0, 1.0)
        have = torch.bincount(torch.as_tensor(ids).flatten(), minlength=V).double()
        have[:SPECIALS] = 0
        if have.sum() <= 0:
            return
        have = have / have.sum()
        shift = torch.where(words, torch.log((want + RAKE_SMOOTH) / (have + RAKE_SMOOTH)), 0.0)
        model.head.bias[:first] += shift[:first].to(model.head.bias.dtype)
        for k, (a, b) in enumerate(zip(model.cutoffs, model.cutoffs[1:])):
            w, h = float(want[a:b].sum()), float(have[a:b].sum())
            model.head.bias[first + k] += math.log((w + RAKE_SMOOTH) / (h + RAKE_SMOOTH))
            inside = torch.log((want[a:b] / max(w, 1e-12) + RAKE_SMOOTH) / (have[a:b] / max(h, 1e-12) + RAKE_SMOOTH))
            model.tail_out[k].bias += torch.where(words[a:b], inside, 0.0).to(model.tail_out[k].bias.dtype)


@torch.no_grad()
def _draw_ids(part: TextPart, encoder: TableEncoder, tokens: np.ndarray, gen: torch.Generator,
              temperature: float, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """The drawn token ids of each row's texts [n, T] (PAD after the last) and the rows' text
    columns' flat tokens [n, C] (null / length bucket)."""
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
    # per column: the ids it may write, END first, and their lengths
    lookup = vocab._lookup()
    own_ids = [torch.tensor([END] + sorted(lookup[t] for t in e.vocab_), dtype=torch.long, device=device)
               for e in encs]
    vocab_lengths = vocab.lengths().to(device)
    lengths_of = [vocab_lengths[i] for i in own_ids]

    c_in, h = model.start(torch.as_tensor(np.asarray(tokens, dtype=np.int64), device=device),
                          torch.as_tensor(row_positions(encoder, tokens), device=device))
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
            piece_length = lengths_of[j]
            r = room[sel]
            ok = piece_length[None, :] <= r[:, None]
            must_end = is_null[live[sel], j] | (r <= 0)
            ok[must_end] = False
            ok[must_end, 0] = True  # END
            ok[length[sel] < shortest[live[sel], j], 0] = False
            ok[:, 0] |= ~ok.any(1)  # a column whose vocabulary is empty
            if temperature == 1.0 and top_p >= 1.0:
                nxt[sel] = own_ids[j][_draw_adaptive(model, features[sel], own_ids[j], ok, gen)]
                continue
            logits = model.logits(features[sel], own_ids[j]).masked_fill(~ok, float("-inf"))
            probs = torch.softmax(logits / max(temperature, 1e-6), -1)
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
    return ids.cpu().numpy(), flat


def _draw_adaptive(model, features: torch.Tensor, ids: torch.Tensor, ok: torch.Tensor, gen: torch.Generator,
                   tries: int = MAX_CLUSTER_TRIES) -> torch.Tensor:
    """Per row of features [m, R], the index into ``ids`` (a column's tokens, ascending) of a
    token drawn from the model's distribution restricted to the allowed ones (``ok`` [m, V_j]).
    A rejection sampler that computes a rarer cluster only for the rows that draw it: a draw
    among the allowed shortlist tokens and the clusters (at their whole probability), then a
    token within the drawn cluster, kept when allowed, else the row draws again; rows still
    drawing after ``tries`` rounds get the exact restricted distribution."""
    first, m = model.cutoffs[0], len(features)
    out = torch.zeros(m, dtype=torch.long, device=features.device)
    n_head = int((ids < first).sum())
    spans = [(k, a, b, int((ids < a).sum()), int((ids < b).sum()))
             for k, (a, b) in enumerate(zip(model.cutoffs, model.cutoffs[1:]))]
    spans = [sp for sp in spans if sp[4] > sp[3]]  # clusters holding some of the column's tokens
    head = torch.softmax(model.head(features), -1)  # [m, SHORTLIST + clusters]
    w = torch.cat([head[:, ids[:n_head]] * ok[:, :n_head]]
                  + [(head[:, first + k] * ok[:, lo:hi].any(1))[:, None] for k, _, _, lo, hi in spans], 1)
    todo = (w.sum(1) > 0).nonzero()[:, 0]
    fallback = [(w.sum(1) <= 0).nonzero()[:, 0]]
    for _ in range(tries):
        if not len(todo):
            break
        pick = _draw(w[todo], gen)
        in_head = pick < n_head
        out[todo[in_head]] = pick[in_head]
        again = []
        for c, (k, a, b, lo, hi) in enumerate(spans):
            rows = todo[pick == n_head + c]
            if not len(rows):
                continue
            tail = torch.softmax(model.tail_out[k](model.tail_in[k](features[rows])), -1)  # [r, b - a]
            token = _draw(tail, gen) + a
            at = torch.searchsorted(ids, token).clamp_max(len(ids) - 1)
            keep = (ids[at] == token) & ok[rows, at]
            out[rows[keep]] = at[keep]
            again.append(rows[~keep])
        todo = torch.cat(again) if again else todo[:0]
    rest = torch.cat([*fallback, todo])
    if len(rest):
        probs = model.probs(features[rest], ids) * ok[rest]
        dead = probs.sum(1) <= 0  # every allowed token's probability underflowed: any allowed one
        probs[dead] = ok[rest][dead].to(probs.dtype)
        out[rest] = _draw(probs, gen)
    return out


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
    if not isinstance(part, TextPart):  # a fine-tuned Hugging Face model (``hf.py``) writes its own
        return part.fill(df, encoder, tokens, gen, temperature, top_p)
    texts = write_texts(part, encoder, tokens, gen, temperature, top_p)
    for col, values in texts.items():
        s = pd.Series(values, name=col, dtype=object)
        df[col] = s.astype(df[col].dtype) if df[col].dtype != object else s
    return df
